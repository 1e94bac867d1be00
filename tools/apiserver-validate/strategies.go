package main

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/kubernetes/pkg/apis/apps"
	_ "k8s.io/kubernetes/pkg/apis/apps/install"
	"k8s.io/kubernetes/pkg/apis/autoscaling"
	_ "k8s.io/kubernetes/pkg/apis/autoscaling/install"
	"k8s.io/kubernetes/pkg/apis/batch"
	_ "k8s.io/kubernetes/pkg/apis/batch/install"
	"k8s.io/kubernetes/pkg/apis/core"
	_ "k8s.io/kubernetes/pkg/apis/core/install"
	"k8s.io/kubernetes/pkg/apis/networking"
	_ "k8s.io/kubernetes/pkg/apis/networking/install"
	"k8s.io/kubernetes/pkg/apis/policy"
	_ "k8s.io/kubernetes/pkg/apis/policy/install"
	"k8s.io/kubernetes/pkg/registry/apps/daemonset"
	"k8s.io/kubernetes/pkg/registry/apps/deployment"
	"k8s.io/kubernetes/pkg/registry/apps/replicaset"
	"k8s.io/kubernetes/pkg/registry/apps/statefulset"
	"k8s.io/kubernetes/pkg/registry/autoscaling/horizontalpodautoscaler"
	"k8s.io/kubernetes/pkg/registry/batch/cronjob"
	"k8s.io/kubernetes/pkg/registry/batch/job"
	"k8s.io/kubernetes/pkg/registry/core/configmap"
	"k8s.io/kubernetes/pkg/registry/core/persistentvolumeclaim"
	"k8s.io/kubernetes/pkg/registry/core/pod"
	"k8s.io/kubernetes/pkg/registry/core/podtemplate"
	"k8s.io/kubernetes/pkg/registry/core/replicationcontroller"
	"k8s.io/kubernetes/pkg/registry/core/secret"
	"k8s.io/kubernetes/pkg/registry/core/service"
	"k8s.io/kubernetes/pkg/registry/core/serviceaccount"
	"k8s.io/kubernetes/pkg/registry/networking/ingress"
	"k8s.io/kubernetes/pkg/registry/networking/networkpolicy"
	"k8s.io/kubernetes/pkg/registry/policy/poddisruptionbudget"
)

// strategyOf: the create strategy the API server's storage for the object's kind runs.
func strategyOf(object runtime.Object) (rest.RESTCreateStrategy, error) {
	switch object := object.(type) {
	case *apps.DaemonSet:
		return daemonset.Strategy, nil
	case *apps.Deployment:
		return deployment.Strategy, nil
	case *apps.ReplicaSet:
		return replicaset.Strategy, nil
	case *apps.StatefulSet:
		return statefulset.Strategy, nil
	case *autoscaling.HorizontalPodAutoscaler:
		return horizontalpodautoscaler.Strategy, nil
	case *batch.CronJob:
		return cronjob.Strategy, nil
	case *batch.Job:
		return job.Strategy, nil
	case *core.ConfigMap:
		return configmap.Strategy, nil
	case *core.PersistentVolumeClaim:
		return persistentvolumeclaim.Strategy, nil
	case *core.Pod:
		return pod.Strategy, nil
	case *core.PodTemplate:
		return podtemplate.Strategy, nil
	case *core.ReplicationController:
		return replicationcontroller.Strategy, nil
	case *core.Secret:
		return secret.Strategy, nil
	case *core.Service:
		// The Service storage fills clusterIPs from clusterIP (its allocator would choose
		// them when unset) before the strategy validates (pkg/registry/core/service/storage).
		if len(object.Spec.ClusterIPs) == 0 && object.Spec.ClusterIP != "" {
			object.Spec.ClusterIPs = []string{object.Spec.ClusterIP}
		}
		return service.Strategy, nil
	case *core.ServiceAccount:
		return serviceaccount.Strategy, nil
	case *networking.Ingress:
		return ingress.Strategy, nil
	case *networking.NetworkPolicy:
		return networkpolicy.Strategy, nil
	case *policy.PodDisruptionBudget:
		return poddisruptionbudget.Strategy, nil
	}
	return nil, fmt.Errorf("no create strategy here for %T: add the kind to strategies.go", object)
}

// create: the errors of rest.BeforeCreate, what the API server runs on every create (the
// strategy's PrepareForCreate, object meta and the kind's validation), in the namespace the
// object names, else namespace.
func create(object runtime.Object, namespace string) []string {
	strategy, err := strategyOf(object)
	if err != nil {
		return []string{err.Error()}
	}
	accessor, err := meta.Accessor(object)
	if err != nil {
		return []string{err.Error()}
	}
	if accessor.GetNamespace() == "" && strategy.NamespaceScoped() {
		accessor.SetNamespace(namespace)
	}
	ctx := genericapirequest.WithNamespace(context.Background(), accessor.GetNamespace())
	rest.FillObjectMetaSystemFields(accessor)
	return causes(rest.BeforeCreate(strategy, ctx, object))
}

// causes: one "field: message" per field the API server's error names (its whole text when it
// names none).
func causes(err error) []string {
	if err == nil {
		return []string{}
	}
	status, ok := err.(apierrors.APIStatus)
	if !ok || status.Status().Details == nil || len(status.Status().Details.Causes) == 0 {
		return []string{err.Error()}
	}
	found := []string{}
	for _, cause := range status.Status().Details.Causes {
		found = append(found, fmt.Sprintf("%s: %s", cause.Field, cause.Message))
	}
	return found
}
