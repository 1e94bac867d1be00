package main

import (
	"encoding/json"
	"fmt"
	"os"

	"sigs.k8s.io/yaml"
)

type generator struct {
	Git   *gitGenerator
	Other map[string]json.RawMessage
}

// UnmarshalJSON keeps the git generator and remembers any other generator kind.
func (g *generator) UnmarshalJSON(data []byte) error {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil {
		return err
	}
	if raw, ok := fields["git"]; ok {
		g.Git = &gitGenerator{}
		if err := json.Unmarshal(raw, g.Git); err != nil {
			return err
		}
		delete(fields, "git")
	}
	g.Other = fields
	return nil
}

type applicationSet struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	} `json:"metadata"`
	Spec struct {
		GoTemplate        bool        `json:"goTemplate"`
		GoTemplateOptions []string    `json:"goTemplateOptions"`
		Generators        []generator `json:"generators"`
		Template          any         `json:"template"`
		TemplatePatch     *string     `json:"templatePatch"`
		SyncPolicy        *struct {
			PreserveResourcesOnDeletion bool `json:"preserveResourcesOnDeletion"`
		} `json:"syncPolicy"`
	} `json:"spec"`
}

func loadApplicationSet(file string) (*applicationSet, error) {
	content, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var appSet applicationSet
	if err := yaml.Unmarshal(content, &appSet); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if appSet.APIVersion != "argoproj.io/v1alpha1" || appSet.Kind != "ApplicationSet" {
		return nil, fmt.Errorf("%s: not an argoproj.io/v1alpha1 ApplicationSet", file)
	}
	if !appSet.Spec.GoTemplate {
		return nil, fmt.Errorf("%s: only goTemplate: true is implemented", file)
	}
	return &appSet, nil
}

// loadTemplateSchema: spec.template of the ApplicationSet CRD's v1alpha1 schema.
func loadTemplateSchema(file string) (schema, error) {
	content, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var crd struct {
		Spec struct {
			Versions []struct {
				Name   string `json:"name"`
				Schema struct {
					OpenAPIV3Schema map[string]any `json:"openAPIV3Schema"`
				} `json:"schema"`
			} `json:"versions"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(content, &crd); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	for _, version := range crd.Spec.Versions {
		if version.Name != "v1alpha1" {
			continue
		}
		template := schema(version.Schema.OpenAPIV3Schema).child("properties").child("spec").
			child("properties").child("template")
		if template != nil {
			return template, nil
		}
	}
	return nil, fmt.Errorf("%s: no v1alpha1 spec.template schema (is it the ApplicationSet CRD?)", file)
}
