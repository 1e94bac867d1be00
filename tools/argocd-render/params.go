package main

// The parameters of Argo CD's git files generator with goTemplate: true
// (applicationset/generators/git.go): each matched file is parsed as YAML (JSON is YAML) into
// one object or a list of objects; each object's keys are the parameters as they are (numbers
// become float64, as sigs.k8s.io/yaml decodes them), plus "path" (or pathParamPrefix.path).

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"
)

type filesItem struct {
	Path    string `json:"path"`
	Exclude bool   `json:"exclude"`
}

type gitGenerator struct {
	RepoURL         string            `json:"repoURL"`
	Revision        string            `json:"revision"`
	Files           []filesItem       `json:"files"`
	Directories     []any             `json:"directories"`
	PathParamPrefix string            `json:"pathParamPrefix"`
	Values          map[string]string `json:"values"`
}

// lsFiles is the repo-server's default file matching: `git ls-files --full-name -z -- PATTERN`
// (git pathspec globbing, where '*' also matches '/'), not the opt-in doublestar globbing.
func lsFiles(repo, pattern string) ([]string, error) {
	command := exec.Command("git", "-C", repo, "ls-files", "--full-name", "-z", "--", pattern)
	var stderr bytes.Buffer
	command.Stderr = &stderr
	out, err := command.Output()
	if err != nil {
		return nil, fmt.Errorf("git ls-files %s: %w: %s", pattern, err, stderr.String())
	}
	parts := strings.Split(string(out), "\x00")
	return parts[:len(parts)-1], nil
}

// matchedFiles: the union of the include patterns minus the exclude patterns, sorted.
func matchedFiles(repo string, items []filesItem) ([]string, error) {
	included := map[string]bool{}
	for _, exclude := range []bool{false, true} {
		for _, item := range items {
			if item.Exclude != exclude {
				continue
			}
			files, err := lsFiles(repo, item.Path)
			if err != nil {
				return nil, err
			}
			for _, file := range files {
				if exclude {
					delete(included, file)
				} else {
					included[file] = true
				}
			}
		}
	}
	names := make([]string, 0, len(included))
	for name := range included {
		names = append(names, name)
	}
	sort.Strings(names)
	return names, nil
}

// fileObjects parses a file as Argo CD does: one object (an empty file is one empty object),
// else a list of objects.
func fileObjects(content []byte) ([]map[string]any, error) {
	single := map[string]any{}
	if err := yaml.Unmarshal(content, &single); err == nil {
		return []map[string]any{single}, nil
	}
	var list []map[string]any
	if err := yaml.Unmarshal(content, &list); err != nil {
		return nil, fmt.Errorf("unable to parse file: %w", err)
	}
	return list, nil
}

func pathParams(filePath string) map[string]any {
	directory := path.Dir(filePath)
	return map[string]any{
		"path":               directory,
		"basename":           path.Base(directory),
		"filename":           path.Base(filePath),
		"basenameNormalized": sanitizeName(path.Base(directory)),
		"filenameNormalized": sanitizeName(path.Base(filePath)),
		"segments":           toAnySlice(strings.Split(directory, "/")),
	}
}

func toAnySlice(items []string) []any {
	result := make([]any, len(items))
	for index, item := range items {
		result[index] = item
	}
	return result
}

// paramFile is one parameter set and the file it came from.
type paramFile struct {
	File   string
	Params map[string]any
}

func gitFilesParams(repo string, generator gitGenerator) ([]paramFile, error) {
	if len(generator.Directories) != 0 || len(generator.Files) == 0 {
		return nil, fmt.Errorf("only the git files generator is implemented")
	}
	if len(generator.Values) != 0 {
		return nil, fmt.Errorf("git generator values are not implemented")
	}
	names, err := matchedFiles(repo, generator.Files)
	if err != nil {
		return nil, err
	}
	var result []paramFile
	for _, name := range names {
		content, err := os.ReadFile(filepath.Join(repo, filepath.FromSlash(name)))
		if err != nil {
			return nil, err
		}
		objects, err := fileObjects(content)
		if err != nil {
			return nil, fmt.Errorf("unable to process file '%s' from repository '%s': %w",
				name, generator.RepoURL, err)
		}
		for _, object := range objects {
			result = append(result, paramFile{name, withPath(object, name, generator.PathParamPrefix)})
		}
	}
	return result, nil
}

func withPath(object map[string]any, filePath, prefix string) map[string]any {
	params := map[string]any{}
	for key, value := range object {
		params[key] = value
	}
	if prefix != "" {
		params[prefix] = map[string]any{"path": pathParams(filePath)}
	} else {
		params["path"] = pathParams(filePath)
	}
	return params
}
