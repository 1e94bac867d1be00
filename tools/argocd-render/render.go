package main

// Rendering an ApplicationSet's template the way Argo CD's RenderTemplateParams does: the
// template is decoded into Go structs first, then every string field is executed as its own
// Go text/template (deeplyReplace), so an expression can never produce YAML structure. Keys are
// templated only where the Go type is a map (labels, annotations, ...) or a raw JSON field
// (helm.valuesObject); struct field names never are. This walk learns which is which from the
// ApplicationSet CRD's schema of spec.template, which Argo CD generates from those structs.

import (
	"bytes"
	"fmt"
	"text/template"
)

type renderer struct {
	base    *template.Template
	options []string
	params  map[string]any
}

func newRenderer(options []string, params map[string]any) (*renderer, error) {
	base := template.New("base").Funcs(argoFuncMap())
	if err := applyOptions(base, options); err != nil {
		return nil, err
	}
	return &renderer{base: base, options: options, params: params}, nil
}

// applyOptions: text/template panics on an unknown option; Argo CD would crash on it too.
func applyOptions(base *template.Template, options []string) (err error) {
	defer func() {
		if recovered := recover(); recovered != nil {
			err = fmt.Errorf("invalid goTemplateOptions: %v", recovered)
		}
	}()
	for _, option := range options {
		base.Option(option)
	}
	return nil
}

// replace is Argo CD's Replace for goTemplate: true: clone, parse, execute.
func (r *renderer) replace(text string) (string, error) {
	cloned, err := r.base.Clone()
	if err != nil {
		return "", fmt.Errorf("failed to clone base template: %w", err)
	}
	parsed, err := cloned.Parse(text)
	if err != nil {
		return "", fmt.Errorf("failed to parse template %s: %w", text, err)
	}
	var out bytes.Buffer
	if err := parsed.Execute(&out, r.params); err != nil {
		return "", fmt.Errorf("failed to execute go template %s: %w", text, err)
	}
	return out.String(), nil
}

// schema is one node of an OpenAPI v3 schema from a CRD.
type schema map[string]any

func (s schema) child(key string) schema {
	if child, ok := s[key].(map[string]any); ok {
		return schema(child)
	}
	return nil
}

func (s schema) preservesUnknown() bool {
	preserve, _ := s["x-kubernetes-preserve-unknown-fields"].(bool)
	return preserve
}

// walk renders node, described by s, found at where (a JSON path for messages).
func (r *renderer) walk(node any, s schema, where string) (any, error) {
	switch value := node.(type) {
	case string:
		return r.walkString(value, s, where)
	case map[string]any:
		return r.walkObject(value, s, where)
	case []any:
		items := make([]any, len(value))
		for index, item := range value {
			rendered, err := r.walk(item, s.child("items"), fmt.Sprintf("%s[%d]", where, index))
			if err != nil {
				return nil, err
			}
			items[index] = rendered
		}
		return items, nil
	default:
		return node, nil
	}
}

func (r *renderer) walkString(value string, s schema, where string) (any, error) {
	if s != nil && !s.preservesUnknown() && s["type"] != "string" && s["x-kubernetes-int-or-string"] != true {
		return nil, fmt.Errorf("%s: a string where the Application has type %v; "+
			"Argo CD cannot decode the template", where, s["type"])
	}
	return r.replace(value)
}

func (r *renderer) walkObject(value map[string]any, s schema, where string) (any, error) {
	properties := s.child("properties")
	rawOrMap := s == nil || s.preservesUnknown() || s.child("additionalProperties") != nil
	if properties == nil && !rawOrMap {
		return nil, fmt.Errorf("%s: an object where the Application has type %v", where, s["type"])
	}
	result := map[string]any{}
	for key, item := range value {
		var itemSchema schema
		switch {
		case properties != nil && properties.child(key) != nil:
			itemSchema = properties.child(key)
		case !rawOrMap:
			return nil, fmt.Errorf("%s: unknown field %q: the Application has no such field", where, key)
		case s != nil && s.child("additionalProperties") != nil:
			itemSchema = s.child("additionalProperties")
		}
		rendered, err := r.walk(item, itemSchema, where+"."+key)
		if err != nil {
			return nil, err
		}
		if properties == nil {
			// A Go map or raw JSON: the key is a template too.
			if key, err = r.replace(key); err != nil {
				return nil, err
			}
		}
		result[key] = rendered
	}
	return result, nil
}
