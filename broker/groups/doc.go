// Package groups is the broker's consumer-group coordinator, the RocketMQ
// way: the broker keeps the membership of each group, assigns the queues of
// a topic to its live members, and stores their committed offsets. It has
// no network code: the server decodes requests and calls a Coordinator, and
// tells it about topics through the small Queues interface.
//
// # What it owns
//
// A Coordinator owns the state file DIR/groups.json and two goroutines,
// both started by Open and stopped by Close: the flusher, which writes the
// state, and the reaper, which expires members whose session ran out.
//
// # Subscriptions
//
// State is kept per (group, topic), a subscription: mode, tags expression,
// start_from, generation, live members, the assignment of queues to members
// and the committed offset of each queue. Subscriptions and offsets are
// persisted; members are not, so after a restart every member gets
// CodeUnknownMember on its next heartbeat and joins again (it may keep its
// member ID by joining with it).
//
// # Clustering mode (the default)
//
// Every queue of the topic is owned by exactly one live member, and the
// queue counts of two members differ by at most one. The assignment is
// sticky: a member joining takes only the queues it needs, from the most
// loaded members; a member leaving or expiring gives up only its queues,
// to the least loaded. Every change of the assignment bumps the generation.
//
// A member must heartbeat within its session timeout (default 10s, members
// may ask for 1s to 5m; they are told to heartbeat every third of it). The
// reaper checks sessions every 250ms and every request on a subscription
// checks them first, so an expired member is gone the moment it is looked
// at.
//
// A member starts on a queue at the committed offset, raised to the queue's
// minimum if retention removed it (and lowered to its end if the queue lost
// a tail). Without a committed offset it starts at start_from: "earliest"
// (the default) is the queue's minimum; an RFC 3339 time is the first
// message stored at or after it; "latest" is the queue's end when the
// subscription is created, and is then stored as the committed offset, so
// that a restart does not skip what arrived in between.
//
// Fencing: a commit is accepted only from a live member that owns every
// queue of the request in the current assignment; otherwise the whole
// request fails with CodeFenced (or CodeUnknownMember for a member the
// broker does not know). The generation of the request is not compared:
// the owner's commit is right even if other queues moved meanwhile. A
// commit lower than the stored offset is stored as-is, since a consumer
// commits in order. A commit without member ID is an administrator's, and
// is refused with CodeGroupActive while the group has live members; so is
// a Reset.
//
// # Broadcasting mode
//
// Every member gets every queue, starting at start_from. The broker keeps
// no progress: Commit stores nothing, and lag is not reported.
//
// # Durability and the state file
//
// Commit, Reset, DeleteTopic and Join return only once their change (for
// Join: the subscription it joined) is on disk. They mark the state dirty and
// wait; the flusher writes the whole state atomically (temporary file,
// fsync, rename, fsync of the directory) and wakes every waiter the write
// covers, so concurrent commits share one write (group commit). A failed
// write fails its waiters with CodeStoreFailed and is retried; the change
// stays in memory. The file is JSON:
//
//	{
//	 "version": 1,
//	 "subscriptions": [
//	  {
//	   "group": "collectors",
//	   "topic": "logs",
//	   "mode": "clustering",          // or "broadcasting"
//	   "tags": "error || warn",       // omitted when empty
//	   "start_from": "earliest",      // "latest" or an RFC 3339 time
//	   "generation": 7,
//	   "offsets": [{"queue": 0, "offset": 1200}, ...]   // next offset to consume
//	  }
//	 ]
//	}
//
// Open refuses a file it cannot parse or whose version it does not know,
// naming the file: offsets are never dropped silently.
//
// # Metrics
//
// sluice_group_members, sluice_group_subscriptions, and counters of
// rebalances, commits, fenced commits, session expiries and state writes
// (sluice_group_*_total); per clustering subscription and queue,
// sluice_group_lag_messages and sluice_group_lag_oldest_seconds with labels
// group, topic and queue, read from the store at scrape time and removed
// with the subscription.
package groups
