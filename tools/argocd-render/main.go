// Command argocd-render creates the Applications that Argo CD's ApplicationSet controller
// would create from ApplicationSets with goTemplate: true and git files generators, reading the
// generator's files from a local git repository.
//
//	argocd-render --repo DIR --crd applicationset-crd.yaml APPLICATIONSET.yaml...
//
// stdout: JSON {"applications": [{"applicationSet", "file", "application"}], "errors":
// [{"applicationSet", "file", "error"}]}. Exit 0: every Application rendered; 1: some template,
// file or ApplicationSet could not be rendered (listed in errors); 2: usage or internal error.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
)

const resourcesFinalizer = "resources-finalizer.argocd.argoproj.io"

type output struct {
	Applications []created    `json:"applications"`
	Errors       []renderFail `json:"errors"`
}

type created struct {
	ApplicationSet string         `json:"applicationSet"`
	File           string         `json:"file"`
	Application    map[string]any `json:"application"`
}

type renderFail struct {
	ApplicationSet string `json:"applicationSet"`
	File           string `json:"file,omitempty"`
	Error          string `json:"error"`
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("argocd-render", flag.ContinueOnError)
	flags.SetOutput(stderr)
	repo := flags.String("repo", "", "git repository the generators read files from")
	crd := flags.String("crd", "", "the ApplicationSet CRD (its schema types the template)")
	if err := flags.Parse(args); err != nil || *repo == "" || *crd == "" || flags.NArg() == 0 {
		fmt.Fprintln(stderr, "usage: argocd-render --repo DIR --crd CRD.yaml APPLICATIONSET.yaml...")
		return 2
	}
	templateSchema, err := loadTemplateSchema(*crd)
	if err != nil {
		fmt.Fprintf(stderr, "argocd-render: %v\n", err)
		return 2
	}
	result := output{Applications: []created{}, Errors: []renderFail{}}
	for _, file := range flags.Args() {
		renderFile(*repo, file, templateSchema, &result)
	}
	encoder := json.NewEncoder(stdout)
	encoder.SetIndent("", "  ")
	if err := encoder.Encode(result); err != nil {
		fmt.Fprintf(stderr, "argocd-render: %v\n", err)
		return 2
	}
	if len(result.Errors) > 0 {
		return 1
	}
	return 0
}

func renderFile(repo, file string, templateSchema schema, result *output) {
	appSet, err := loadApplicationSet(file)
	if err != nil {
		result.Errors = append(result.Errors, renderFail{ApplicationSet: file, Error: err.Error()})
		return
	}
	name := appSet.Metadata.Name
	for _, generator := range appSet.Spec.Generators {
		if generator.Git == nil || len(generator.Other) != 0 {
			result.Errors = append(result.Errors, renderFail{ApplicationSet: name,
				Error: "only git files generators are implemented"})
			continue
		}
		sets, err := gitFilesParams(repo, *generator.Git)
		if err != nil {
			result.Errors = append(result.Errors, renderFail{ApplicationSet: name, Error: err.Error()})
			continue
		}
		for _, set := range sets {
			application, err := renderApplication(appSet, set.Params, templateSchema)
			if err != nil {
				result.Errors = append(result.Errors,
					renderFail{ApplicationSet: name, File: set.File, Error: err.Error()})
				continue
			}
			result.Applications = append(result.Applications,
				created{ApplicationSet: name, File: set.File, Application: application})
		}
	}
}

// renderApplication: RenderTemplateParams (with the resources finalizer unless
// preserveResourcesOnDeletion or the template names finalizers), then the templatePatch
// (patch.go), then the ApplicationSet's namespace (applicationset/controllers/template/template.go).
func renderApplication(appSet *applicationSet, params map[string]any, templateSchema schema) (map[string]any, error) {
	r, err := newRenderer(appSet.Spec.GoTemplateOptions, params)
	if err != nil {
		return nil, err
	}
	rendered, err := r.walk(appSet.Spec.Template, templateSchema, "$.spec.template")
	if err != nil {
		return nil, err
	}
	template := rendered.(map[string]any)
	metadata := applicationMetadata(template["metadata"])
	preserve := appSet.Spec.SyncPolicy != nil && appSet.Spec.SyncPolicy.PreserveResourcesOnDeletion
	if _, has := metadata["finalizers"]; !has && !preserve {
		metadata["finalizers"] = []any{resourcesFinalizer}
	}
	application := map[string]any{"metadata": metadata, "spec": template["spec"]}
	if appSet.Spec.TemplatePatch != nil {
		if application, err = r.applyTemplatePatch(application, *appSet.Spec.TemplatePatch, templateSchema); err != nil {
			return nil, err
		}
	}
	metadata, _ = application["metadata"].(map[string]any)
	if metadata == nil {
		metadata = map[string]any{}
	}
	metadata["namespace"] = appSet.Metadata.Namespace
	return map[string]any{
		"apiVersion": "argoproj.io/v1alpha1",
		"kind":       "Application",
		"metadata":   metadata,
		"spec":       application["spec"],
	}, nil
}

// applicationMetadata keeps what GetTempApplication copies, leaving out empty values as the Go
// structs' omitempty does.
func applicationMetadata(node any) map[string]any {
	source, _ := node.(map[string]any)
	metadata := map[string]any{}
	for _, key := range []string{"name", "labels", "annotations", "finalizers"} {
		value, ok := source[key]
		if !ok || isEmpty(value) {
			continue
		}
		metadata[key] = value
	}
	return metadata
}

func isEmpty(value any) bool {
	switch typed := value.(type) {
	case nil:
		return true
	case string:
		return typed == ""
	case map[string]any:
		return len(typed) == 0
	case []any:
		return len(typed) == 0
	}
	return false
}
