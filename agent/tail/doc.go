// Package tail is the agent's `file` source: it follows the files that
// match include globs (minus exclude globs) and emits their lines, with
// properties host, file, offset and source plus the configured fields.
//
// # Identity and checkpoints
//
// A file is known by its device and inode plus a fingerprint: a hash of
// its first bytes (up to 1 KiB, with the length hashed). The checkpoint
// of a file is the offset after the last line the shipper acknowledged
// (the broker or the spool has it); it never runs ahead of that. The
// state file (JSON, written atomically) lists the checkpoints of the
// files being followed, so it does not grow with files long gone.
//
// # Rotation
//
//   - rename and create: the renamed file is kept open and read to its
//     end before it is let go; the new file at the path is a new inode
//     and is read from its beginning.
//   - copytruncate and truncation in place: the same inode shrinks below
//     the read offset; reading restarts at 0.
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
// MaxLineBytes is emitted in pieces of at most MaxLineBytes, counted in
// sluice_agent_file_lines_split_total. An unterminated last line waits
// for its newline, except at the end of a file that was rotated away.
// Memory per file is bounded by MaxLineBytes plus one read chunk.
package tail
