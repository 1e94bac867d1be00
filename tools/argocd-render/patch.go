package main

// templatePatch as Argo CD applies it (applicationset/controllers/template/patch.go and
// utils.applyTemplatePatch): the patch text is rendered as one Go template with the same
// parameters, read as YAML, and applied to the Application as a strategic merge patch. The
// Application's types declare no patch strategy or merge key, so the strategic merge is the
// plain one implemented here: objects merge key by key, a null removes the key, anything else
// (lists included) replaces. The patched fields are checked against the Application's schema.

import (
	"encoding/json"
	"fmt"
	"strings"

	"sigs.k8s.io/yaml"
)

func (r *renderer) applyTemplatePatch(app map[string]any, patch string, s schema) (map[string]any, error) {
	text, err := r.replace(patch)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(text) == "" {
		return app, nil
	}
	converted, err := yaml.YAMLToJSON([]byte(text))
	if err != nil {
		return nil, fmt.Errorf("templatePatch: %w", err)
	}
	var patchObject map[string]any
	if err := json.Unmarshal(converted, &patchObject); err != nil {
		return nil, fmt.Errorf("templatePatch: not an object: %w", err)
	}
	if err := checkAgainst(patchObject, s, "$.spec.templatePatch"); err != nil {
		return nil, err
	}
	return mergeObjects(app, patchObject), nil
}

// checkAgainst: every field of node is one the Application has, with its type's shape.
func checkAgainst(node any, s schema, where string) error {
	if s == nil || s.preservesUnknown() {
		return nil
	}
	switch value := node.(type) {
	case map[string]any:
		properties := s.child("properties")
		for key, item := range value {
			switch {
			case properties != nil && properties.child(key) != nil:
				if err := checkAgainst(item, properties.child(key), where+"."+key); err != nil {
					return err
				}
			case s.child("additionalProperties") != nil:
				if err := checkAgainst(item, s.child("additionalProperties"), where+"."+key); err != nil {
					return err
				}
			default:
				return fmt.Errorf("%s: unknown field %q: the Application has no such field", where, key)
			}
		}
	case []any:
		if s["type"] != "array" {
			return fmt.Errorf("%s: a list where the Application has type %v", where, s["type"])
		}
		for index, item := range value {
			if err := checkAgainst(item, s.child("items"), fmt.Sprintf("%s[%d]", where, index)); err != nil {
				return err
			}
		}
	case string:
		if s["type"] != "string" && s["x-kubernetes-int-or-string"] != true {
			return fmt.Errorf("%s: a string where the Application has type %v", where, s["type"])
		}
	}
	return nil
}

func mergeObjects(base, patch map[string]any) map[string]any {
	merged := map[string]any{}
	for key, value := range base {
		merged[key] = value
	}
	for key, value := range patch {
		if value == nil {
			delete(merged, key)
			continue
		}
		patchChild, patchIsObject := value.(map[string]any)
		baseChild, baseIsObject := merged[key].(map[string]any)
		if patchIsObject && baseIsObject {
			merged[key] = mergeObjects(baseChild, patchChild)
		} else {
			merged[key] = value
		}
	}
	return merged
}
