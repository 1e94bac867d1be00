package main

// Updates: with -previous, a document that names an object the previous render held too (same
// group, kind, namespace and name) is validated as the upgrade that turns the previous object
// into it, the way `helm upgrade` and a client-side `kubectl apply` (Argo CD's default) send it:
// the previous object as the API server stored it (defaulted, created), the three-way patch of
// the previous manifest, the new one and that live object (strategic merge for built-in kinds,
// JSON merge for custom resources), applied to the live object, then the kind's update
// validation through rest.BeforeUpdate (immutable fields, CEL transition rules). A server
// that was written to by others since (a controller's fields, a kubectl edit) is not modelled:
// the live object is what the previous manifest created, and a claim is bound (bind). A Helm hook (the helm test pod) is
// no part of an upgrade: helm deletes it and creates it anew when it runs the hook.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/jsonmergepatch"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/kubernetes/pkg/api/legacyscheme"
	"k8s.io/kubernetes/pkg/apis/core"
	sigsyaml "sigs.k8s.io/yaml"
)

// objectKey: what names one object of a release across renders (not its API version).
type objectKey struct {
	group, kind, namespace, name string
}

// header: what a document says it is, read once per document.
type header struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name        string            `json:"name"`
		Namespace   string            `json:"namespace"`
		Annotations map[string]string `json:"annotations"`
	} `json:"metadata"`
}

func readHeader(document []byte) (header, error) {
	var found header
	err := sigsyaml.Unmarshal(document, &found)
	return found, err
}

// key: the object's key, in namespace when it names none.
func (h header) key(namespace string) objectKey {
	if h.Metadata.Namespace != "" {
		namespace = h.Metadata.Namespace
	}
	group := schema.FromAPIVersionAndKind(h.APIVersion, h.Kind).Group
	return objectKey{group, h.Kind, namespace, h.Metadata.Name}
}

// isHook: a Helm hook (helm.sh/hook set).
func (h header) isHook() bool {
	return h.Metadata.Annotations["helm.sh/hook"] != ""
}

// readPrevious: the documents of the previous render in file, by key.
func readPrevious(file, namespace string) (map[objectKey][]byte, error) {
	opened, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer opened.Close()
	previous := map[objectKey][]byte{}
	reader := utilyaml.NewYAMLReader(bufio.NewReader(opened))
	for {
		document, err := reader.Read()
		if err == io.EOF {
			return previous, nil
		}
		if err != nil {
			return nil, err
		}
		if isEmpty(document) {
			continue
		}
		found, err := readHeader(document)
		if err != nil {
			return nil, err
		}
		if !found.isHook() {
			previous[found.key(namespace)] = document
		}
	}
}

// previousInvalid: the errors of the previous object's own create, which an update cannot
// start from.
func previousInvalid(errors []string) []string {
	found := []string{}
	for _, message := range errors {
		found = append(found, "previous object: "+message)
	}
	return found
}

// updateBuiltin: the errors of the update of the previous document's object to document's.
func (target cluster) updateBuiltin(previous, document []byte) ([]string, error) {
	versioned, _, err := strictDecoder.Decode(previous, nil, nil)
	if err != nil {
		return []string{"previous object: " + err.Error()}, nil
	}
	legacyscheme.Scheme.Default(versioned)
	old, err := legacyscheme.Scheme.ConvertToVersion(versioned, runtime.InternalGroupVersioner)
	if err != nil {
		return nil, err
	}
	if errors := create(old, target.namespace); len(errors) > 0 {
		return previousInvalid(errors), nil
	}
	stamp(old)
	bind(old)
	stored, err := legacyscheme.Scheme.ConvertToVersion(old, versioned.GetObjectKind().GroupVersionKind().GroupVersion())
	if err != nil {
		return nil, err
	}
	live, err := json.Marshal(stored)
	if err != nil {
		return nil, err
	}
	patchMeta, err := strategicpatch.NewPatchMetaFromStruct(stored)
	if err != nil {
		return nil, err
	}
	original, modified, err := manifestsJSON(previous, document)
	if err != nil {
		return nil, err
	}
	patch, err := strategicpatch.CreateThreeWayMergePatch(original, modified, live, patchMeta, true)
	if err != nil {
		return []string{"patch: " + err.Error()}, nil
	}
	patched, err := strategicpatch.StrategicMergePatchUsingLookupPatchMeta(live, patch, patchMeta)
	if err != nil {
		return []string{"patch: " + err.Error()}, nil
	}
	object, _, err := strictDecoder.Decode(patched, nil, nil)
	if err != nil {
		return []string{err.Error()}, nil
	}
	legacyscheme.Scheme.Default(object)
	internal, err := legacyscheme.Scheme.ConvertToVersion(object, runtime.InternalGroupVersioner)
	if err != nil {
		return []string{err.Error()}, nil
	}
	return update(internal, old)
}

// update: the errors of rest.BeforeUpdate, what the API server runs on every update.
func update(object, old runtime.Object) ([]string, error) {
	strategy, err := strategyOf(object)
	if err != nil {
		return []string{err.Error()}, nil
	}
	updates, ok := strategy.(rest.RESTUpdateStrategy)
	if !ok {
		return nil, fmt.Errorf("no update strategy here for %T", object)
	}
	accessor, err := meta.Accessor(old)
	if err != nil {
		return nil, err
	}
	ctx := genericapirequest.WithNamespace(context.Background(), accessor.GetNamespace())
	return causes(rest.BeforeUpdate(updates, ctx, object, old)), nil
}

// updateCustom: the errors of the update of the previous custom resource to document's.
func updateCustom(kind customKind, previous, document []byte, namespace string) ([]string, error) {
	old, unknown, err := customObject(kind, previous, namespace)
	if err != nil {
		return nil, err
	}
	ctx := genericapirequest.WithNamespace(context.Background(), old.GetNamespace())
	rest.FillObjectMetaSystemFields(old)
	if errors := append(unknown, causes(rest.BeforeCreate(kind.strategy, ctx, old))...); len(errors) > 0 {
		return previousInvalid(errors), nil
	}
	stamp(old)
	// The new manifest's own unknown fields, as a create of it would name them.
	_, unknown, err = customObject(kind, document, namespace)
	if err != nil {
		return nil, err
	}
	live, err := old.MarshalJSON()
	if err != nil {
		return nil, err
	}
	original, modified, err := manifestsJSON(previous, document)
	if err != nil {
		return nil, err
	}
	patch, err := jsonmergepatch.CreateThreeWayJSONMergePatch(original, modified, live)
	if err != nil {
		return []string{"patch: " + err.Error()}, nil
	}
	patched, err := jsonpatch.MergePatch(live, patch)
	if err != nil {
		return []string{"patch: " + err.Error()}, nil
	}
	object, _, err := customObject(kind, patched, namespace)
	if err != nil {
		return nil, err
	}
	return append(unknown, causes(rest.BeforeUpdate(kind.strategy, ctx, object, old))...), nil
}

// stamp: what the storage writes on a created object before anyone reads it: the version a
// client's update must carry (its patch keeps it from the live object).
func stamp(object runtime.Object) {
	if accessor, err := meta.Accessor(object); err == nil {
		accessor.SetResourceVersion("1")
	}
}

// bind: a claim as the volume binder leaves it once its pod runs, bound to a volume of its
// size (only a bound claim may grow: a pending one is immutable). Its class stays the one it
// names: a cluster's default class, which admission would write into a claim that names none,
// is not known here.
func bind(object runtime.Object) {
	claim, ok := object.(*core.PersistentVolumeClaim)
	if !ok {
		return
	}
	claim.Spec.VolumeName = "pvc-" + string(claim.UID)
	claim.Status.Phase = core.ClaimBound
	claim.Status.AccessModes = claim.Spec.AccessModes
	claim.Status.Capacity = core.ResourceList{}
	if size, found := claim.Spec.Resources.Requests[core.ResourceStorage]; found {
		claim.Status.Capacity[core.ResourceStorage] = size
	}
}

// manifestsJSON: the two manifests as JSON, as a client sends them.
func manifestsJSON(previous, document []byte) ([]byte, []byte, error) {
	original, err := sigsyaml.YAMLToJSON(previous)
	if err != nil {
		return nil, nil, err
	}
	modified, err := sigsyaml.YAMLToJSON(document)
	return original, modified, err
}

// customObject: document as the apiextensions handler reads a custom resource body (JSON
// integers as int64, unknown fields pruned and named, schema defaults applied), in namespace
// when it names none.
func customObject(kind customKind, document []byte, namespace string) (*unstructured.Unstructured, []string, error) {
	text, err := sigsyaml.YAMLToJSON(document)
	if err != nil {
		return nil, nil, err
	}
	decoded, _, err := unstructured.UnstructuredJSONScheme.Decode(text, nil, nil)
	if err != nil {
		return nil, nil, err
	}
	object, ok := decoded.(*unstructured.Unstructured)
	if !ok {
		return nil, nil, fmt.Errorf("not an object: %T", decoded)
	}
	found := pruneAndDefault(kind, object)
	if object.GetNamespace() == "" && kind.strategy.NamespaceScoped() {
		object.SetNamespace(namespace)
	}
	return object, found, nil
}
