package main

// The template functions of Argo CD's ApplicationSet controller (applicationset/utils/utils.go
// and template_functions.go in argo-cd v3.5): sprig's generic function map without env,
// expandenv and getHostByName, plus normalize, slugify, toYaml, fromYaml and fromYamlArray.
// Written from Argo CD's documented behaviour; the libraries are the ones it uses, at its versions.

import (
	"regexp"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig/v3"
	"github.com/gosimple/slug"
	"sigs.k8s.io/yaml"
)

const maxDNSNameLength = 253

var invalidDNSNameChars = regexp.MustCompile("[^-a-z0-9.]")

// removedSprigFunctions would tell a template about the controller's environment.
var removedSprigFunctions = []string{"env", "expandenv", "getHostByName"}

func argoFuncMap() template.FuncMap {
	funcs := sprig.GenericFuncMap()
	for _, name := range removedSprigFunctions {
		delete(funcs, name)
	}
	funcs["normalize"] = sanitizeName
	funcs["slugify"] = slugifyName
	funcs["toYaml"] = toYAML
	funcs["fromYaml"] = fromYAML
	funcs["fromYamlArray"] = fromYAMLArray
	return template.FuncMap(funcs)
}

// sanitizeName: lower case, every character outside [-a-z0-9.] becomes '-', cut at 253, then
// leading and trailing '-' and '.' trimmed (Argo CD's SanitizeName, also .path.*Normalized).
func sanitizeName(name string) string {
	name = invalidDNSNameChars.ReplaceAllString(strings.ToLower(name), "-")
	if len(name) > maxDNSNameLength {
		name = name[:maxDNSNameLength]
	}
	return strings.Trim(name, "-.")
}

// slugifyName: slugify [maxSize [smartTruncate]] name; defaults 50 and true. Argo CD type-asserts
// the arguments, so a wrong type panics there; text/template turns that panic into an error here.
func slugifyName(args ...any) string {
	maxSize, smartTruncate, name := 50, true, ""
	for index, arg := range args {
		switch index {
		case len(args) - 1:
			name = arg.(string)
		case 0:
			maxSize = arg.(int)
		case 1:
			smartTruncate = arg.(bool)
		}
	}
	slug.EnableSmartTruncate = smartTruncate
	slug.MaxLength = maxSize
	return slug.Make(sanitizeName(name))
}

func toYAML(value any) (string, error) {
	data, err := yaml.Marshal(value)
	if err != nil {
		return "", err
	}
	return strings.TrimSuffix(string(data), "\n"), nil
}

func fromYAML(text string) (map[string]any, error) {
	result := map[string]any{}
	if err := yaml.Unmarshal([]byte(text), &result); err != nil {
		return nil, err
	}
	return result, nil
}

func fromYAMLArray(text string) ([]any, error) {
	result := []any{}
	if err := yaml.Unmarshal([]byte(text), &result); err != nil {
		return nil, err
	}
	return result, nil
}
