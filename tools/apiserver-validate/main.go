// apiserver-validate runs rendered manifests through the validation kube-apiserver runs on a
// create: the registry strategy of each built-in kind (k8s.io/kubernetes v1.34.4), after the
// defaulting and the conversion to the internal types the API server applies; with -previous,
// as the update from the previous render's object of the same name (update.go). The OpenAPI
// schemas (kubernetes-validate, tools/kube_validate.py) check types and unknown fields; this
// checks what only the server's Go code checks: name and label formats, port names, probe and
// security-context rules, selector and template agreement.
//
//	apiserver-validate [-namespace NS] [-crds DIR] [-pod-security LEVEL[:VERSION]] [-previous FILE] FILE...
//	(FILE "-": standard input)
//
// Each FILE holds YAML documents (helm template's output). One JSON object per document goes to
// standard output: {"file", "index", "apiVersion", "kind", "name", "operation", "result",
// "errors"}, operation "create", or "update" where -previous FILE (the YAML documents of the
// release as it stands) holds an object of the same group, kind, namespace and name; result
// "valid", "invalid", or "unknown-kind" for a kind that is neither built in nor served by a
// CustomResourceDefinition under DIR (crds.go: custom resources are created as the apiextensions
// handler creates them, CEL rules included). With -pod-security (restricted, baseline, or with a
// version such as restricted:v1.34; the level a namespace's pod-security.kubernetes.io/enforce
// label names), a Pod and the pod template of a Deployment, StatefulSet, DaemonSet, ReplicaSet,
// Job, CronJob, ReplicationController or PodTemplate are also evaluated by Pod Security admission
// (k8s.io/pod-security-admission v0.34.4, podsecurity.go): each check they fail is one more error,
// `pod security "restricted:latest": REASON (DETAIL)` in the library's words. Exit status 0 when
// every known document is valid, 1 when one is not, 2 when a file cannot be read, a document is
// not an object at all, or the flags are wrong.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/kubernetes/pkg/api/legacyscheme"
	"k8s.io/kubernetes/pkg/capabilities"
	sigsyaml "sigs.k8s.io/yaml"
)

// Result is what is printed for one document.
type Result struct {
	File       string   `json:"file"`
	Index      int      `json:"index"`
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Name       string   `json:"name"`
	Operation  string   `json:"operation"`
	Result     string   `json:"result"`
	Errors     []string `json:"errors"`
}

var strictDecoder = serializer.NewCodecFactory(
	legacyscheme.Scheme, serializer.EnableStrict,
).UniversalDeserializer()

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("apiserver-validate", flag.ContinueOnError)
	flags.SetOutput(stderr)
	namespace := flags.String("namespace", "default", "namespace of documents that name none")
	crdDir := flags.String("crds", "", "folder of CustomResourceDefinition YAML files")
	standard := flags.String(
		"pod-security", "", "Pod Security level[:version] that pods must meet (restricted, baseline)",
	)
	previousFile := flags.String("previous", "", "YAML documents of the release as it stands: their objects are updated")
	if err := flags.Parse(args); err != nil {
		return 2
	}
	if flags.NArg() == 0 {
		fmt.Fprintln(stderr, "usage: apiserver-validate [-namespace NS] [-crds DIR] "+
			"[-pod-security LEVEL[:VERSION]] [-previous FILE] FILE...")
		return 2
	}
	kinds, err := customKinds(*crdDir)
	if err != nil {
		fmt.Fprintf(stderr, "apiserver-validate: %v\n", err)
		return 2
	}
	target := cluster{namespace: *namespace, kinds: kinds}
	if *previousFile != "" {
		if target.previous, err = readPrevious(*previousFile, *namespace); err != nil {
			fmt.Fprintf(stderr, "apiserver-validate: %s: %v\n", *previousFile, err)
			return 2
		}
	}
	if *standard != "" {
		if target.podSecurity, err = newPodSecurity(*standard); err != nil {
			fmt.Fprintf(stderr, "apiserver-validate: %v\n", err)
			return 2
		}
	}
	// kube-apiserver's --allow-privileged is true on kubeadm, EKS, GKE and AKS clusters.
	capabilities.Initialize(capabilities.Capabilities{AllowPrivileged: true})
	encoder := json.NewEncoder(stdout)
	status := 0
	for _, name := range flags.Args() {
		results, err := target.validateFile(name, stdin)
		if err != nil {
			fmt.Fprintf(stderr, "apiserver-validate: %s: %v\n", name, err)
			return 2
		}
		for _, result := range results {
			if err := encoder.Encode(result); err != nil {
				fmt.Fprintf(stderr, "apiserver-validate: %v\n", err)
				return 2
			}
			if result.Result == "invalid" {
				status = 1
			}
		}
	}
	return status
}

// cluster: what the documents are created in.
type cluster struct {
	namespace   string // of documents that name none
	kinds       map[schema.GroupVersionKind]customKind
	podSecurity *podSecurity         // nil: the namespace enforces no Pod Security level
	previous    map[objectKey][]byte // the release as it stands: its objects are updated
}

func (target cluster) validateFile(name string, stdin io.Reader) ([]Result, error) {
	var input io.Reader = stdin
	if name != "-" {
		file, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		defer file.Close()
		input = file
	}
	reader := utilyaml.NewYAMLReader(bufio.NewReader(input))
	var results []Result
	for index := 0; ; {
		document, err := reader.Read()
		if err == io.EOF {
			return results, nil
		}
		if err != nil {
			return nil, err
		}
		if isEmpty(document) {
			continue
		}
		result, err := target.validateDocument(document)
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", index, err)
		}
		result.File, result.Index = name, index
		results = append(results, result)
		index++
	}
}

// isEmpty: a document of comments and blank lines only (helm writes one per skipped template).
func isEmpty(document []byte) bool {
	var value interface{}
	if err := sigsyaml.Unmarshal(document, &value); err != nil {
		return false
	}
	return value == nil
}

func (target cluster) validateDocument(document []byte) (Result, error) {
	header, err := readHeader(document)
	if err != nil {
		return Result{}, err
	}
	result := Result{APIVersion: header.APIVersion, Kind: header.Kind, Name: header.Metadata.Name}
	result.Errors, result.Operation = []string{}, "create"
	previous, upgraded := target.previous[header.key(target.namespace)]
	upgraded = upgraded && !header.isHook()
	if upgraded {
		result.Operation = "update"
	}
	gvk := schema.FromAPIVersionAndKind(header.APIVersion, header.Kind)
	if !legacyscheme.Scheme.Recognizes(gvk) {
		kind, served := target.kinds[gvk]
		if !served {
			result.Result = "unknown-kind"
			return result, nil
		}
		var errors []string
		if upgraded {
			errors, err = updateCustom(kind, previous, document, target.namespace)
		} else {
			errors, err = createCustom(kind, document, target.namespace)
		}
		if err != nil {
			return Result{}, err
		}
		result.Errors, result.Result = errors, verdict(errors)
		return result, nil
	}
	object, _, err := strictDecoder.Decode(document, nil, nil)
	if err != nil {
		// An unknown or duplicate field: what the server refuses under fieldValidation=Strict.
		result.Result, result.Errors = "invalid", []string{err.Error()}
		return result, nil
	}
	legacyscheme.Scheme.Default(object)
	internal, err := legacyscheme.Scheme.ConvertToVersion(object, runtime.InternalGroupVersioner)
	if err != nil {
		result.Result, result.Errors = "invalid", []string{err.Error()}
		return result, nil
	}
	if upgraded {
		if result.Errors, err = target.updateBuiltin(previous, document); err != nil {
			return Result{}, err
		}
	} else {
		result.Errors = create(internal, target.namespace)
	}
	// The API server runs validating admission, PodSecurity among it, after the strategy; both
	// are reported so that one run names everything a create would refuse.
	if target.podSecurity != nil {
		violations, err := target.podSecurity.violations(internal)
		if err != nil {
			return Result{}, err
		}
		result.Errors = append(result.Errors, violations...)
	}
	result.Result = verdict(result.Errors)
	return result, nil
}

func verdict(errors []string) string {
	if len(errors) > 0 {
		return "invalid"
	}
	return "valid"
}
