package tail

import (
	"io/fs"
	"path/filepath"
	"strings"
)

// glob returns the paths matching pattern: filepath.Glob, plus "**" as a
// whole path segment matching any number of directories (doublestar
// style: /var/log/**/*.log). A "**" pattern walks its tree at every scan,
// so it should stay below a directory of logs, not the root.
func glob(pattern string) []string {
	if !strings.Contains(pattern, "**") {
		paths, _ := filepath.Glob(pattern) // the only error is a bad pattern, refused by Validate
		return paths
	}
	segs := strings.Split(filepath.Clean(pattern), string(filepath.Separator))
	i := 0
	for i < len(segs) && !hasMeta(segs[i]) {
		i++
	}
	root := strings.Join(segs[:i], string(filepath.Separator))
	if root == "" {
		root = string(filepath.Separator)
		if !filepath.IsAbs(pattern) {
			root = "."
		}
	}
	var out []string
	filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || path == root {
			return nil // unreadable directories are skipped, like Glob does
		}
		rel, _ := filepath.Rel(root, path)
		if !d.IsDir() && matchSegments(segs[i:], strings.Split(rel, string(filepath.Separator))) {
			out = append(out, path)
		}
		return nil
	})
	return out
}

func hasMeta(s string) bool { return strings.ContainsAny(s, `*?[\`) }

// matchSegments matches path segments against pattern segments, "**"
// standing for zero or more of them.
func matchSegments(pat, path []string) bool {
	for len(pat) > 0 {
		if pat[0] == "**" {
			for k := 0; k <= len(path); k++ {
				if matchSegments(pat[1:], path[k:]) {
					return true
				}
			}
			return false
		}
		if len(path) == 0 {
			return false
		}
		if ok, _ := filepath.Match(pat[0], path[0]); !ok {
			return false
		}
		pat, path = pat[1:], path[1:]
	}
	return len(path) == 0
}

// globMatch reports whether path matches pattern, with "**" as in glob.
func globMatch(pattern, path string) bool {
	if !strings.Contains(pattern, "**") {
		ok, _ := filepath.Match(pattern, path)
		return ok
	}
	sep := string(filepath.Separator)
	return matchSegments(strings.Split(filepath.Clean(pattern), sep), strings.Split(filepath.Clean(path), sep))
}
