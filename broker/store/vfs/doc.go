// Package vfs is the only way broker/store touches the file system.
//
// It is deliberately small (modelled on Pebble's vfs): the store needs to
// create, open, write, read at an offset, sync, truncate, rename and remove
// files, list and sync directories, and ask how full the disk is. Default is
// the real operating system. FaultFS wraps any FS and injects the failures a
// storage engine must survive: a write that fails half-way, an fsync that
// fails, and a disk that runs out of space. Crash and fault tests therefore
// need neither root nor a real full disk.
package vfs
