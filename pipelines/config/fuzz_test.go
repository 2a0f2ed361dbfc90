package config

import "testing"

// FuzzParse checks that no input makes Parse panic and that every error
// carries a position.
func FuzzParse(f *testing.F) {
	f.Add([]byte("broker:\n  listen: 127.0.0.1:7600\n  retention: {max_age: 72h, max_size: 50GiB}\n"))
	f.Add([]byte("broker: &a {flush: sync}\nagent: *a\n"))
	f.Add([]byte("broker:\n  data_dir: ${HOME:-/tmp}\n  default_queues: 0x10\n"))
	f.Add([]byte("- a\n- b\n"))
	f.Add([]byte("broker: [1, 2]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, err := Parse("fuzz.yaml", data)
		if errs, ok := err.(Errors); ok {
			for _, e := range errs {
				if e.Line < 1 || e.File != "fuzz.yaml" {
					t.Fatalf("error without a position: %#v", e)
				}
			}
		}
	})
}
