package tail

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/sluicehq/sluice/broker/store/vfs"
)

// stateFile is the name of the checkpoint file in StateDir.
const stateFile = "checkpoints.json"

// checkpoint is one file's entry in the state file.
type checkpoint struct {
	Dev    uint64 `json:"dev"`
	Ino    uint64 `json:"ino"`
	FPLen  int    `json:"fp_len"`
	FPHash uint64 `json:"fp_hash"`
	Path   string `json:"path"`
	Offset int64  `json:"offset"`
	// Seen is when the file was last followed (Unix seconds).
	Seen int64 `json:"seen,omitempty"`
}

type state struct {
	Version int          `json:"version"`
	Files   []checkpoint `json:"files"`
}

// loadState reads the checkpoints; a missing file is an empty state, a
// damaged one is an error naming it (guessing offsets would lose or
// repeat lines silently).
func loadState(dir string) ([]checkpoint, error) {
	b, err := os.ReadFile(filepath.Join(dir, stateFile))
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return decodeState(b)
}

func decodeState(b []byte) ([]checkpoint, error) {
	var st state
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("file source checkpoints %s: %w", stateFile, err)
	}
	if st.Version != 1 {
		return nil, fmt.Errorf("file source checkpoints %s: version %d, want 1", stateFile, st.Version)
	}
	for _, c := range st.Files {
		if c.Offset < 0 || c.FPLen < 0 || c.FPLen > fingerprintBytes {
			return nil, fmt.Errorf("file source checkpoints %s: bad entry for %s", stateFile, c.Path)
		}
	}
	return st.Files, nil
}

func saveState(dir string, cps []checkpoint) error {
	b, err := json.Marshal(state{Version: 1, Files: cps})
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return vfs.WriteFileAtomic(vfs.Default, filepath.Join(dir, stateFile), b)
}
