package main

// Custom resources, as the API server's apiextensions handler takes a create: the
// CustomResourceDefinitions given with -crds, each served version's schema made structural;
// a document's unknown fields found by pruning (refused, as under fieldValidation=Strict), then
// defaulted from the schema, then the custom resource strategy's checks through rest.BeforeCreate:
// object meta, the OpenAPI schema, list types, and the x-kubernetes-validations (CEL) rules.

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	structuraldefaulting "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	structuralpruning "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	apiservervalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"k8s.io/apiextensions-apiserver/pkg/registry/customresource"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
	sigsyaml "sigs.k8s.io/yaml"
)

// customKind: what the API server holds for one served version of a CustomResourceDefinition.
type customKind struct {
	strategy   customStrategy
	structural *structuralschema.Structural
}

// customStrategy: what the apiextensions handler runs on a create and on an update.
type customStrategy interface {
	rest.RESTCreateStrategy
	rest.RESTUpdateStrategy
}

// customKinds: served group/version/kind -> its kind, from every CRD in the YAML files under dir.
func customKinds(dir string) (map[schema.GroupVersionKind]customKind, error) {
	kinds := map[schema.GroupVersionKind]customKind{}
	if dir == "" {
		return kinds, nil
	}
	var files []string
	err := filepath.WalkDir(dir, func(path string, entry os.DirEntry, err error) error {
		if err == nil && !entry.IsDir() && (strings.HasSuffix(path, ".yaml") || strings.HasSuffix(path, ".yml")) {
			files = append(files, path)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	for _, file := range files {
		if err := addCustomKinds(file, kinds); err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
	}
	return kinds, nil
}

func addCustomKinds(file string, kinds map[schema.GroupVersionKind]customKind) error {
	opened, err := os.Open(file)
	if err != nil {
		return err
	}
	defer opened.Close()
	reader := utilyaml.NewYAMLReader(bufio.NewReader(opened))
	for {
		document, err := reader.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		var crd apiextensionsv1.CustomResourceDefinition
		if err := sigsyaml.Unmarshal(document, &crd); err != nil {
			return err
		}
		if crd.Kind != "CustomResourceDefinition" {
			continue
		}
		for _, version := range crd.Spec.Versions {
			if !version.Served || version.Schema == nil {
				continue
			}
			kind, err := newCustomKind(&crd, version)
			if err != nil {
				return fmt.Errorf("%s %s: %w", crd.Name, version.Name, err)
			}
			gvk := schema.GroupVersionKind{Group: crd.Spec.Group, Version: version.Name, Kind: crd.Spec.Names.Kind}
			kinds[gvk] = kind
		}
	}
}

func newCustomKind(crd *apiextensionsv1.CustomResourceDefinition, version apiextensionsv1.CustomResourceDefinitionVersion) (customKind, error) {
	var internal apiextensions.CustomResourceValidation
	if err := apiextensionsv1.Convert_v1_CustomResourceValidation_To_apiextensions_CustomResourceValidation(version.Schema, &internal, nil); err != nil {
		return customKind{}, err
	}
	structural, err := structuralschema.NewStructural(internal.OpenAPIV3Schema)
	if err != nil {
		return customKind{}, err
	}
	validator, _, err := apiservervalidation.NewSchemaValidator(internal.OpenAPIV3Schema)
	if err != nil {
		return customKind{}, err
	}
	var status *apiextensions.CustomResourceSubresourceStatus
	var scale *apiextensions.CustomResourceSubresourceScale
	if version.Subresources != nil {
		var subresources apiextensions.CustomResourceSubresources
		if err := apiextensionsv1.Convert_v1_CustomResourceSubresources_To_apiextensions_CustomResourceSubresources(version.Subresources, &subresources, nil); err != nil {
			return customKind{}, err
		}
		status, scale = subresources.Status, subresources.Scale
	}
	gvk := schema.GroupVersionKind{Group: crd.Spec.Group, Version: version.Name, Kind: crd.Spec.Names.Kind}
	strategy := customresource.NewStrategy(
		kindTyper{}, crd.Spec.Scope == apiextensionsv1.NamespaceScoped, gvk,
		validator, nil, structural, status, scale, version.SelectableFields,
	)
	return customKind{strategy: strategy, structural: structural}, nil
}

// kindTyper: a custom resource's kind is the one it names (the API server's unstructured typer).
type kindTyper struct{}

func (kindTyper) ObjectKinds(object runtime.Object) ([]schema.GroupVersionKind, bool, error) {
	return []schema.GroupVersionKind{object.GetObjectKind().GroupVersionKind()}, false, nil
}

func (kindTyper) Recognizes(schema.GroupVersionKind) bool { return true }

// createCustom: the errors of a create of document as kind, in namespace when it names none.
func createCustom(kind customKind, document []byte, namespace string) ([]string, error) {
	object, found, err := customObject(kind, document, namespace)
	if err != nil {
		return nil, err
	}
	ctx := genericapirequest.WithNamespace(context.Background(), object.GetNamespace())
	rest.FillObjectMetaSystemFields(object)
	return append(found, causes(rest.BeforeCreate(kind.strategy, ctx, object))...), nil
}

// pruneAndDefault: object's unknown fields removed, one error each (the API server refuses
// them under strict field validation, else drops them), then its schema's defaults applied.
func pruneAndDefault(kind customKind, object *unstructured.Unstructured) []string {
	unknown := structuralpruning.PruneWithOptions(
		object.Object, kind.structural, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true},
	)
	found := []string{}
	for _, path := range unknown {
		found = append(found, fmt.Sprintf("%s: unknown field (the API server refuses it under strict field validation, else drops it)", path))
	}
	structuraldefaulting.PruneNonNullableNullsWithoutDefaults(object.Object, kind.structural)
	structuraldefaulting.Default(object.Object, kind.structural)
	return found
}
