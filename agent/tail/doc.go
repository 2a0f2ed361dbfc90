// Package tail is the agent's `file` source: it follows the files that
// match include globs (minus exclude globs) and emits their lines, with
// properties host, file, offset and source plus the configured fields.
// It owns the open file descriptors, one read buffer shared by every
// file, and the checkpoint file in StateDir; one goroutine (Run's) does
// all of it, and the shipper's ack callbacks only mark ranges delivered.
//
// # Identity and checkpoints
//
// A file is known by its device and inode plus a fingerprint: a hash of
// its first bytes (up to 1 KiB, with the length hashed). A file shorter
// than 1 KiB is known by its device and inode and the bytes it has, and
// its fingerprint grows with it. The checkpoint of a file is the offset
// after the last line the shipper acknowledged (the broker or the spool
// has it); it never runs ahead of that. Acks may come out of order: a
// file's checkpoint advances over the delivered prefix of its batches. An
// ack with an error (not delivered, the shipper is stopping) holds the
// checkpoint where it is, so the lines are read again after a restart:
// delivery is at least once, and what repeats is what was in flight.
//
// The state file, StateDir/checkpoints.json, is written atomically
// (temporary file, fsync, rename, directory fsync) at most once a second
// and when Run returns:
//
//	{"version": 1, "files": [
//	  {"dev": 2049, "ino": 1234, "fp_len": 1024, "fp_hash": 99..., // identity
//	   "path": "/var/log/app/app.log",   // the name its lines carry
//	   "offset": 52311,                  // resume here: all before is delivered
//	   "seen": 1764338400}]}             // last followed, Unix seconds
//
// It lists the files being followed, plus checkpoints loaded at start
// whose file was not found yet, until ForgetAfter; files deleted or
// rotated away leave it once drained, so it does not grow with files
// long gone. A damaged state file stops Run with an error naming it:
// guessing offsets would lose or repeat lines silently.
//
// # Rotation
//
//   - rename and create: the renamed file is kept open and read to its
//     end before it is let go; the new file at the path is a new inode
//     and is read from its beginning.
//   - copytruncate and truncation in place: the same inode shrinks below
//     the read offset, or (written past it again before the next scan)
//     its first bytes changed; reading restarts at 0.
//   - delete and create: like rename (the open handle reads to the end).
//   - inode reuse: a known inode whose fingerprint changed is a new file.
//   - symlinks: followed; the file is known by its target's identity.
//
// Files seen at the first scan without a checkpoint start at StartAt
// (the end by default); files that appear later are read from the start.
// A file followed before a restart and renamed while the agent was down
// is found by its inode next to its old path and drained from its
// checkpoint. A file created and rotated away entirely while the agent
// was down can only be found if the include globs cover rotated names
// (app.log*), as with every tailer. Of files that share a name, the
// oldest is read first, so one path's lines keep their order; a file
// keeps the name (the "file" property and the key) it was first found
// under.
//
// # Lines
//
// A line ends at '\n' ("\r\n" is trimmed too). A line longer than
// MaxLineBytes is emitted in pieces of at most MaxLineBytes (counted in
// sluice_agent_file_lines_split_total), or with TruncateLongLines cut to
// its first MaxLineBytes (sluice_agent_file_lines_truncated_total). An
// unterminated last line waits for its newline (a writer may be half-way
// through it), except at the end of a file that was rotated away, where
// it is emitted as is.
//
// With Multiline, lines are joined by '\n' into events: a start pattern
// begins an event, or a continuation pattern continues one. An event ends
// when the next begins, at MaxLines, when it would exceed MaxLineBytes,
// after FlushTimeout without a line, or at the end of a rotated file.
// Pieces of split lines are not joined. The checkpoint only passes an
// event once it is emitted and delivered, so a restart reads a pending
// event again, whole.
//
// # Resources
//
// Reading between two scans is bounded by ScanInterval, so new files,
// rotations and checkpoint saves are seen to while files grow faster than
// they are read. Files are read round-robin, one 256 KiB chunk per file per pass, into
// one shared buffer; per file only an unfinished line (at most
// MaxLineBytes) and an unfinished event are kept. Files that did not grow
// for IdleTimeout are closed and reopened when they grow. A batch is
// emitted when it reaches BatchLines or BatchBytes, when Linger has
// passed since its first line, and whenever the files have nothing more
// to read. Record bodies and offsets are carved from a per-batch arena;
// the properties map is the only allocation of a line.
package tail
