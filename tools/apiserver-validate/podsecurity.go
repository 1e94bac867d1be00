package main

import (
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/kubernetes/pkg/api/legacyscheme"
	"k8s.io/kubernetes/pkg/apis/apps"
	"k8s.io/kubernetes/pkg/apis/batch"
	"k8s.io/kubernetes/pkg/apis/core"
	psaadmission "k8s.io/pod-security-admission/admission"
	psaapi "k8s.io/pod-security-admission/api"
	psapolicy "k8s.io/pod-security-admission/policy"
)

// podSecurity: the Pod Security admission the documents are checked against
// (k8s.io/pod-security-admission, the library kube-apiserver's PodSecurity plugin runs).
type podSecurity struct {
	standard  psaapi.LevelVersion
	evaluator psapolicy.Evaluator
}

// newPodSecurity parses "LEVEL" or "LEVEL:VERSION" as a namespace's
// pod-security.kubernetes.io/enforce and enforce-version labels read ("restricted",
// "baseline:v1.34"; without a version, "latest", what the labels default to).
func newPodSecurity(standard string) (*podSecurity, error) {
	levelText, versionText, hasVersion := strings.Cut(standard, ":")
	level, err := psaapi.ParseLevel(levelText)
	if err != nil {
		return nil, fmt.Errorf("-pod-security %q: level %w", standard, err)
	}
	version := psaapi.LatestVersion()
	if hasVersion {
		if version, err = psaapi.ParseVersion(versionText); err != nil {
			return nil, fmt.Errorf("-pod-security %q: version %w", standard, err)
		}
	}
	evaluator, err := psapolicy.NewEvaluator(psapolicy.DefaultChecks())
	if err != nil {
		return nil, err
	}
	return &podSecurity{psaapi.LevelVersion{Level: level, Version: version}, evaluator}, nil
}

// violations: one "pod security "LEVEL:VERSION": reason (detail)" per check of the standard that
// the object's pod, or the pods its template makes, fail; none for a kind that makes no pods.
// The object is the internal one the create validated, as the in-tree plugin receives it after
// the strategy's PrepareForCreate. A template is judged as the pods it makes are: enforce only
// warns about the Deployment or Job and refuses its pods, so a release whose template fails
// installs and never runs a pod.
func (security *podSecurity) violations(internal runtime.Object) ([]string, error) {
	versioned := versionedPodBearer(internal)
	if versioned == nil {
		return []string{}, nil
	}
	// The plugin converts with the same scheme (its lazyConvertingAttributes): the library's
	// checks read the v1 types.
	if err := legacyscheme.Scheme.Convert(internal, versioned, nil); err != nil {
		return nil, err
	}
	podMetadata, podSpec, err := psaadmission.DefaultPodSpecExtractor{}.ExtractPodSpec(versioned)
	if err != nil {
		return nil, err
	}
	if podSpec == nil {
		return []string{}, nil
	}
	results := psapolicy.AggregateCheckResults(
		security.evaluator.EvaluatePod(security.standard, podMetadata, podSpec),
	)
	found := []string{}
	for index, reason := range results.ForbiddenReasons {
		// Admission's own words, one failed check per error where its message joins them all
		// with ", ": "reason (detail)", as ForbiddenDetail writes each.
		failed := psapolicy.AggregateCheckResult{
			ForbiddenReasons: []string{reason},
			ForbiddenDetails: []string{results.ForbiddenDetails[index]},
		}
		found = append(found,
			fmt.Sprintf("pod security %q: %s", security.standard, failed.ForbiddenDetail()))
	}
	return found, nil
}

// versionedPodBearer: an empty v1 object for an internal kind that is, or makes, pods (the
// resources of Pod Security's DefaultPodSpecExtractor); nil for any other kind.
func versionedPodBearer(internal runtime.Object) runtime.Object {
	switch internal.(type) {
	case *core.Pod:
		return &corev1.Pod{}
	case *core.PodTemplate:
		return &corev1.PodTemplate{}
	case *core.ReplicationController:
		return &corev1.ReplicationController{}
	case *apps.DaemonSet:
		return &appsv1.DaemonSet{}
	case *apps.Deployment:
		return &appsv1.Deployment{}
	case *apps.ReplicaSet:
		return &appsv1.ReplicaSet{}
	case *apps.StatefulSet:
		return &appsv1.StatefulSet{}
	case *batch.CronJob:
		return &batchv1.CronJob{}
	case *batch.Job:
		return &batchv1.Job{}
	}
	return nil
}
