// Package cli holds the broker's command-line commands: `sluice broker`
// (run the server until a signal), `sluice admin` (topics, produce,
// consume, groups, messages) and `sluice bench broker`. main.go only adds
// them to the command tree.
//
// The admin and bench commands reach the broker through broker/client
// only, as any other program would; `sluice bench broker` without
// --broker starts `sluice broker` as a child process on a temporary
// directory, so what it measures is the real server over real TCP.
package cli
