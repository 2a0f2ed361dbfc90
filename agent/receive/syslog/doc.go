// Package syslog is the syslog source: RFC 5424 and RFC 3164 messages
// over UDP or TCP, one record per message.
//
// Transport:
//
//	udp  one message per datagram; longer than MaxMessageBytes: dropped
//	tcp  framing detected per connection from its first byte (RFC 6587):
//	       digit  -> octet counting   "LEN SP MSG" "LEN SP MSG" ...
//	       other  -> newline framing  "MSG\n" "MSG\n" ...  (\r\n, \0 too)
//	     an oversized frame is skipped and counted; a broken octet count
//	     closes the connection
//
// Messages (Parse picks RFC 5424 when it parses as such, else 3164,
// which never fails: what is not a header is the message):
//
//	RFC 5424  <PRI>1 TIMESTAMP HOST APP PROCID MSGID [SD-ID k="v"...] MSG
//	RFC 3164  [<PRI>][Mmm dd hh:mm:ss ][HOST ][TAG[PID]: ]MSG
//
// Record: Body is the message exactly as received (frame header and
// trailing newline removed); Key is the hostname; Time the message's
// timestamp, or the receive time when it has none; properties are
// Fields plus source, remote_addr, facility and severity (names, e.g.
// "local0", "err"), hostname, app_name, proc_id, msg_id, timestamp
// (RFC 3339) when present, and sd.<sd-id>.<param> per structured data
// parameter ("sd.<sd-id>" = "" for an element without parameters).
//
// Syslog has no acknowledgement: records are emitted without an ack
// callback, and a TCP sender feels back-pressure as the receiver stops
// reading.
package syslog
