"""What the API server refuses, the chart refuses first, with words a user can act on.

Each case was found by rendering values the chart accepted through kube-apiserver 1.34's own
create validation (tools/apiserver-validate). A schema rule is held to that evidence here: with
helm's schema check switched off (`--skip-schema-validation`) the same values render and the API
server refuses the manifests, so the schema refuses nothing the cluster would take. The rules of
`templates/_validate.tpl` run in every render; those cases assert helm's message. Each family
has a valid twin that renders and that the API server accepts.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from catalog_gen.check.guardrails import hugepages_refusal, ip_block_refusals
from tests.chart.conftest import API_VERSIONS, CHART, NAMESPACE, RELEASE
from tests.conftest import HELM_VERSIONS, helm_binary
from tests.support.kube import HelmError, apiserver_errors, helm_template_text

MODELS: dict[str, Any] = {"models": [{"name": "phi:latest"}]}
VOLUME: dict[str, Any] = {"extraVolumes": [{"name": "ca", "emptyDir": {}}]}

# (id, values, what helm's schema error names, what the API server's error names)
SCHEMA_CASES: list[tuple[str, dict[str, Any], str, str]] = [
    (
        "volume-with-two-sources",
        {"extraVolumes": [{"name": "ca", "emptyDir": {}, "secret": {"secretName": "ca"}}]},
        "/extraVolumes/0",
        "may not specify more than 1 volume type",
    ),
    (
        "volume-with-a-misspelt-source",
        {"extraVolumes": [{"name": "ca", "configmap": {"name": "ca"}}]},
        "/extraVolumes/0",
        'unknown field "spec.template.spec.volumes[4].configmap"',
    ),
    (
        "seccomp-localhost-without-profile",
        {"securityContext": {"seccompProfile": {"type": "Localhost"}}},
        "/securityContext/seccompProfile",
        "seccompProfile.localhostProfile: Required value",
    ),
    (
        "pod-seccomp-profile-with-another-type",
        {"podSecurityContext": {"seccompProfile": {"type": "Unconfined", "localhostProfile": "x"}}},
        "/podSecurityContext/seccompProfile",
        "can only be set when seccomp type is Localhost",
    ),
    (
        "seccomp-profile-climbing-out",
        {
            "securityContext": {
                "seccompProfile": {"type": "Localhost", "localhostProfile": "a/../../x.json"}
            }
        },
        "/securityContext/seccompProfile/localhostProfile",
        "must not contain '..'",
    ),
    (
        "apparmor-localhost-padded",
        {
            "podSecurityContext": {
                "appArmorProfile": {"type": "Localhost", "localhostProfile": " p"}
            }
        },
        "/podSecurityContext/appArmorProfile/localhostProfile",
        "must not be padded with whitespace",
    ),
    (
        "privileged-without-privilege-escalation",
        {"securityContext": {"privileged": True}},
        "/securityContext/allowPrivilegeEscalation",
        "cannot set `allowPrivilegeEscalation` to false and `privileged` to true",
    ),
    (
        "cap-sys-admin-without-privilege-escalation",
        {"securityContext": {"capabilities": {"drop": ["ALL"], "add": ["CAP_SYS_ADMIN"]}}},
        "/securityContext/allowPrivilegeEscalation",
        "`capabilities.Add` CAP_SYS_ADMIN",
    ),
    (
        "proc-mount-unmasked",
        {"securityContext": {"procMount": "Unmasked"}},
        "/securityContext/procMount",
        "`hostUsers` must be false to use `Unmasked`",
    ),
    (
        "sysctl-name",
        {"podSecurityContext": {"sysctls": [{"name": "KERNEL.SHM", "value": "1"}]}},
        "/podSecurityContext/sysctls/0/name",
        "sysctls[0].name: Invalid value",
    ),
    (
        "selinux-change-policy-mount-option",
        {"podSecurityContext": {"seLinuxChangePolicy": "MountOption"}},
        "/podSecurityContext/seLinuxChangePolicy",
        'Unsupported value: "MountOption"',
    ),
    (
        "pod-annotation-replacing-the-checksum",
        {"podAnnotations": {"checksum/scripts": "x"}},
        "/podAnnotations",
        'key "checksum/scripts" already set in map',
    ),
    (
        "toleration-exists-with-a-value",
        {"tolerations": [{"key": "a", "operator": "Exists", "value": "b"}]},
        "/tolerations/0/value",
        "value must be empty when `operator` is 'Exists'",
    ),
    (
        "toleration-without-key-equal",
        {"tolerations": [{"operator": "Equal", "value": "b"}]},
        "/tolerations/0/operator",
        "operator must be Exists when `key` is empty",
    ),
    (
        "toleration-seconds-without-no-execute",
        {"tolerations": [{"key": "a", "operator": "Exists", "tolerationSeconds": 5}]},
        "/tolerations/0",
        "effect must be 'NoExecute' when `tolerationSeconds` is set",
    ),
    (
        "spread-min-domains-schedule-anyway",
        {
            "topologySpreadConstraints": [
                {
                    "maxSkew": 1,
                    "topologyKey": "zone",
                    "whenUnsatisfiable": "ScheduleAnyway",
                    "minDomains": 2,
                }
            ]
        },
        "/topologySpreadConstraints/0/whenUnsatisfiable",
        "can only use minDomains if whenUnsatisfiable=DoNotSchedule",
    ),
    (
        "selector-in-without-values",
        {
            "topologySpreadConstraints": [
                {
                    "maxSkew": 1,
                    "topologyKey": "zone",
                    "whenUnsatisfiable": "DoNotSchedule",
                    "labelSelector": {"matchExpressions": [{"key": "app", "operator": "In"}]},
                }
            ]
        },
        "/topologySpreadConstraints/0/labelSelector/matchExpressions/0",
        "values: Required value",
    ),
    (
        "affinity-misspelled",
        {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecutionn": {}}}},
        "/affinity/nodeAffinity",
        "unknown field",
    ),
    (
        "node-affinity-without-terms",
        {
            "affinity": {
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": []}
                }
            }
        },
        "nodeSelectorTerms",
        "must have at least one node selector term",
    ),
    (
        "node-affinity-in-without-values",
        {
            "affinity": {
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {
                        "nodeSelectorTerms": [
                            {"matchExpressions": [{"key": "gpu", "operator": "In"}]}
                        ]
                    }
                }
            }
        },
        "matchExpressions/0",
        "must be specified when `operator` is 'In' or 'NotIn'",
    ),
    (
        "pod-anti-affinity-without-topology-key",
        {
            "affinity": {
                "podAntiAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": [
                        {"labelSelector": {"matchLabels": {"app": "ollama"}}}
                    ]
                }
            }
        },
        "missing property 'topologyKey'",
        "topologyKey: Required value",
    ),
    (
        "preferred-affinity-of-weight-zero",
        {
            "affinity": {
                "podAntiAffinity": {
                    "preferredDuringSchedulingIgnoredDuringExecution": [
                        {"weight": 0, "podAffinityTerm": {"topologyKey": "zone"}}
                    ]
                }
            }
        },
        "/weight",
        "must be in the range 1-100",
    ),
    (
        "network-policy-address-without-prefix",
        {"networkPolicy": {"enabled": True, "ingressFrom": [{"ipBlock": {"cidr": "10.0.0.1"}}]}},
        "/networkPolicy/ingressFrom/0/ipBlock/cidr",
        "must be a valid CIDR value",
    ),
    (
        "network-policy-ip-block-and-selector",
        {
            "networkPolicy": {
                "enabled": True,
                "ingressFrom": [{"ipBlock": {"cidr": "10.0.0.0/8"}, "podSelector": {}}],
            }
        },
        "/networkPolicy/ingressFrom/0",
        "may not specify both ipBlock and another peer",
    ),
    (
        "max-unavailable-over-100-percent",
        {"updateStrategy": {"type": "RollingUpdate", "maxUnavailable": "101%"}},
        "/updateStrategy/maxUnavailable",
        "must not be greater than 100%",
    ),
    (
        "disruption-budget-over-100-percent",
        {"replicaCount": 2, "podDisruptionBudget": {"enabled": True, "maxUnavailable": "150%"}},
        "/podDisruptionBudget/maxUnavailable",
        "must not be greater than 100%",
    ),
    (
        "ingress-host-an-ip-address",
        {"ingress": {"enabled": True, "hosts": [{"host": "10.1.2.3"}]}},
        "/ingress/hosts/0/host",
        "must be a DNS name, not an IP address",
    ),
    (
        "ingress-tls-host-upper-case",
        {
            "ingress": {
                "enabled": True,
                "hosts": [{"host": "a.example.com"}],
                "tls": [{"secretName": "s", "hosts": ["A.example.com"]}],
            }
        },
        "/ingress/tls/0/hosts/0",
        "a lowercase RFC 1123 subdomain",
    ),
    (
        "cache-of-zero-bytes",
        {"cache": {"mode": "sharedPVC", "size": "0"}},
        "/cache/size",
        "must be greater than zero",
    ),
    (
        "read-write-once-pod-with-another-mode",
        {"cache": {"mode": "sharedPVC", "accessModes": ["ReadWriteOncePod", "ReadWriteOnce"]}},
        "/cache/accessModes",
        "may not use ReadWriteOncePod with other access modes",
    ),
    (
        "env-value-and-value-from",
        {
            "extraEnv": [
                {
                    "name": "POD",
                    "value": "a",
                    "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}},
                }
            ]
        },
        "/extraEnv/0/value",
        "may not be specified when `value` is not empty",
    ),
    (
        "env-value-from-unknown-field-path",
        {"extraEnv": [{"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "spec.bogus"}}}]},
        "/extraEnv/0/valueFrom/fieldRef/fieldPath",
        "field label not supported",
    ),
    (
        "resource-not-for-containers",
        {"resources": {"requests": {"storage": "1Gi"}}},
        "storage",
        "must be a standard resource for containers",
    ),
    (
        "gpu-named-like-a-quota",
        {"gpu": {"count": 1, "resourceName": "requests.example.com/gpu"}},
        "/gpu/resourceName",
        "doesn't follow extended resource name standard",
    ),
    (
        "mount-sub-path-climbing-out",
        {**VOLUME, "extraVolumeMounts": [{"name": "ca", "mountPath": "/ca", "subPath": "../up"}]},
        "/extraVolumeMounts/0/subPath",
        "must not contain '..'",
    ),
    (
        "mount-bidirectional-unprivileged",
        {
            **VOLUME,
            "extraVolumeMounts": [
                {"name": "ca", "mountPath": "/ca", "mountPropagation": "Bidirectional"}
            ],
        },
        "/securityContext/privileged",
        "Bidirectional mount propagation is available only to privileged containers",
    ),
    (
        "cidr-not-ipv6",
        {"networkPolicy": {"enabled": True, "ingressFrom": [{"ipBlock": {"cidr": ":::/64"}}]}},
        "/networkPolicy/ingressFrom/0/ipBlock/cidr",
        "must be a valid CIDR value",
    ),
    (
        "env-divisor-for-cpu",
        {
            "extraEnv": [
                {
                    "name": "CPU",
                    "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu", "divisor": "2"}},
                }
            ]
        },
        "/extraEnv/0/valueFrom/resourceFieldRef/divisor",
        "only divisor's values 1m and 1 are supported with the cpu resource",
    ),
    (
        "required-node-affinity-value",
        {
            "affinity": {
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {
                        "nodeSelectorTerms": [
                            {
                                "matchExpressions": [
                                    {"key": "zone", "operator": "In", "values": ["a b"]}
                                ]
                            }
                        ]
                    }
                }
            }
        },
        "values/0",
        "a valid label must be",
    ),
    (
        "mount-recursive-read-only-if-possible-writable",
        {
            **VOLUME,
            "extraVolumeMounts": [
                {"name": "ca", "mountPath": "/ca", "recursiveReadOnly": "IfPossible"}
            ],
        },
        "/extraVolumeMounts/0",
        "may only be specified when readOnly is true",
    ),
    (
        "mount-recursive-read-only-writable",
        {
            **VOLUME,
            "extraVolumeMounts": [
                {"name": "ca", "mountPath": "/ca", "recursiveReadOnly": "Enabled"}
            ],
        },
        "/extraVolumeMounts/0",
        "may only be specified when readOnly is true",
    ),
]

# (id, values, what helm's message says): rules of templates/_validate.tpl.
TEMPLATE_CASES: list[tuple[str, dict[str, Any], str]] = [
    (
        "extra-volume-named-like-the-chart's",
        {"extraVolumes": [{"name": "models", "emptyDir": {}}]},
        'extraVolumes[0] is named "models", the name of the chart\'s own volume',
    ),
    (
        "two-extra-volumes-of-one-name",
        {"extraVolumes": [{"name": "ca", "emptyDir": {}}, {"name": "ca", "emptyDir": {}}]},
        'extraVolumes[1] is named "ca", the name of an earlier extra volume',
    ),
    (
        "mount-of-a-missing-volume",
        {"extraVolumeMounts": [{"name": "nosuch", "mountPath": "/x"}]},
        'extraVolumeMounts[0] mounts volume "nosuch", which the pod does not have',
    ),
    (
        "mount-over-a-chart-mount",
        {**VOLUME, "extraVolumeMounts": [{"name": "ca", "mountPath": "/tmp"}]},
        "extraVolumeMounts[0] mounts at /tmp, where the chart's tmp volume is mounted already",
    ),
    (
        "home-on-the-model-cache",
        {"homeDir": "/models"},
        "the chart's home and models volumes would both be mounted at /models",
    ),
    (
        "a-sysctl-set-twice",
        {
            "podSecurityContext": {
                "sysctls": [
                    {"name": "net.ipv4.ip_unprivileged_port_start", "value": "0"},
                    {"name": "net.ipv4.ip_unprivileged_port_start", "value": "80"},
                ]
            }
        },
        "podSecurityContext.sysctls[1] sets net.ipv4.ip_unprivileged_port_start again",
    ),
    (
        "two-spread-constraints-of-one-key",
        {
            "topologySpreadConstraints": [
                {"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule"},
                {"maxSkew": 2, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule"},
            ]
        },
        "topologySpreadConstraints[1] repeats topologyKey and whenUnsatisfiable (zone, "
        "DoNotSchedule)",
    ),
    (
        "one-route-parent-twice",
        {
            "httpRoute": {
                "enabled": True,
                "parentRefs": [
                    {"name": "gw", "namespace": "gateway-system", "sectionName": "https"},
                    {"name": "gw", "namespace": "gateway-system"},
                ],
            }
        },
        "httpRoute.parentRefs names the parent gateway-system/gw 2 times",
    ),
    (
        "rollout-with-zero-written-twice",
        {"updateStrategy": {"type": "RollingUpdate", "maxSurge": "0%", "maxUnavailable": "00%"}},
        "updateStrategy.maxUnavailable is 0 and maxSurge is 0",
    ),
]

# Values close to the cases above that the chart renders and the API server accepts (among them
# what a reviewer found the first rules refused though the cluster takes it: never stricter).
LONG_KEY = "a" * 240 + ".io/" + "b" * 20  # a qualified name: prefix <= 253, name <= 63
VALID_TWINS: list[tuple[str, dict[str, Any]]] = [
    # A volume without a source is an emptyDir to the API server (its defaulting): the schema
    # refuses a second source or a misspelt one, never this.
    ("volume-without-a-source", {"extraVolumes": [{"name": "scratch"}]}),
    ("volume-with-a-null-source", {"extraVolumes": [{"name": "scratch", "configMap": None}]}),
    (
        "cidrs-with-leading-zeros-and-ipv6",
        {
            "networkPolicy": {
                "enabled": True,
                "ingressFrom": [
                    {"ipBlock": {"cidr": "010.0.0.0/08"}},
                    {"ipBlock": {"cidr": "fd00::/08", "except": ["fd00:1::/32"]}},
                    {"ipBlock": {"cidr": "::ffff:10.0.0.0/104"}},
                ],
            }
        },
    ),
    (
        "extended-resources-written-as-quantities",
        {
            "resources": {
                "limits": {"example.com/foo": "1e3", "kubernetes.io/foo": "0.5"},
                "requests": {"example.com/foo": "1k"},
            }
        },
    ),
    ("long-qualified-keys", {"podAnnotations": {LONG_KEY: "x"}, "commonLabels": {LONG_KEY: "x"}}),
    ("upper-case-annotation-prefix", {"podAnnotations": {"Example.com/x": "y"}}),
    (
        "empty-seccomp-profile",
        {"securityContext": {"seccompProfile": {"type": "Localhost", "localhostProfile": ""}}},
    ),
    (
        "env-sources",
        {
            "extraEnv": [
                {
                    "name": "A",
                    "valueFrom": {"fieldRef": {"apiVersion": "", "fieldPath": "metadata.name"}},
                },
                {
                    "name": "B",
                    "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['example.com/x']"}},
                },
                {
                    "name": "C",
                    "valueFrom": {"resourceFieldRef": {"resource": "limits.hugepages-2Mi"}},
                },
                {
                    "name": "D",
                    "valueFrom": {
                        "resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}
                    },
                },
            ]
        },
    ),
    ("host-like-no-ip-address", {"ingress": {"enabled": True, "hosts": [{"host": "999.1.1.1"}]}}),
    ("empty-dir-of-zero-bytes", {"cache": {"mode": "emptyDir", "size": "0"}}),
    ("signed-cache-size", {"cache": {"mode": "emptyDir", "size": "+1Gi"}}),
    (
        "windows-user-name",
        {"securityContext": {"windowsOptions": {"runAsUserName": "ContainerUser"}}},
    ),
    ("gpu-name-without-dot", {"gpu": {"count": 1, "resourceName": "example/gpu"}}),
    ("quantity-exponent-of-three-digits", {"cache": {"mode": "sharedPVC", "size": "1e999"}}),
    (
        "one-route-parent-per-listener",
        {
            "httpRoute": {
                "enabled": True,
                "parentRefs": [
                    {"name": "gw", "namespace": "gateway-system", "sectionName": "https"},
                    {"name": "gw", "namespace": "gateway-system", "sectionName": "http"},
                ],
            }
        },
    ),
    (
        "seccomp-localhost-with-profile",
        {
            "securityContext": {
                "seccompProfile": {"type": "Localhost", "localhostProfile": "p.json"}
            }
        },
    ),
    (
        "privileged-with-privilege-escalation",
        {"securityContext": {"privileged": True, "allowPrivilegeEscalation": True}},
    ),
    (
        "sysctl",
        {
            "podSecurityContext": {
                "sysctls": [{"name": "net.ipv4.ping_group_range", "value": "0 1"}]
            }
        },
    ),
    ("pod-annotation", {"podAnnotations": {"example.com/team": "ml"}}),
    (
        "affinity",
        {
            "affinity": {
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {
                        "nodeSelectorTerms": [
                            {
                                "matchExpressions": [
                                    {
                                        "key": "nvidia.com/gpu.product",
                                        "operator": "In",
                                        "values": ["NVIDIA-L4"],
                                    },
                                    {
                                        "key": "nvidia.com/gpu.memory",
                                        "operator": "Gt",
                                        "values": ["20000"],
                                    },
                                ]
                            }
                        ]
                    },
                    "preferredDuringSchedulingIgnoredDuringExecution": [
                        {
                            "weight": 10,
                            "preference": {
                                "matchFields": [
                                    {
                                        "key": "metadata.name",
                                        "operator": "NotIn",
                                        "values": ["node-1"],
                                    }
                                ]
                            },
                        }
                    ],
                },
                "podAntiAffinity": {
                    "preferredDuringSchedulingIgnoredDuringExecution": [
                        {
                            "weight": 100,
                            "podAffinityTerm": {
                                "topologyKey": "kubernetes.io/hostname",
                                "labelSelector": {
                                    "matchLabels": {"app.kubernetes.io/name": "ollama"}
                                },
                                "namespaces": ["ns"],
                            },
                        }
                    ]
                },
            }
        },
    ),
    (
        "tolerations",
        {
            "tolerations": [
                {"key": "a", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 5},
                {"operator": "Exists"},
            ]
        },
    ),
    (
        "network-policy-peers",
        {
            "networkPolicy": {
                "enabled": True,
                "ingressFrom": [
                    {"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}},
                    {"ipBlock": {"cidr": "fd00::/8"}},
                    {"podSelector": {"matchExpressions": [{"key": "app", "operator": "Exists"}]}},
                ],
            }
        },
    ),
    (
        "rollout-percentages",
        {"updateStrategy": {"type": "RollingUpdate", "maxUnavailable": "100%"}},
    ),
    ("image-tag-ending-in-a-dot", {"image": {"tag": "0.32.0."}}),
    ("ingress-wildcard", {"ingress": {"enabled": True, "hosts": [{"host": "*.example.com"}]}}),
    (
        "env-from-a-secret",
        {"extraEnv": [{"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}]},
    ),
    ("gpu-extra-resource", {"gpu": {"count": 1, "extraResources": {"nvidia.com/gpumem": 2}}}),
    (
        "extra-volume-mounted-read-only",
        {
            **VOLUME,
            "extraVolumeMounts": [
                {
                    "name": "ca",
                    "mountPath": "/ca",
                    "readOnly": True,
                    "recursiveReadOnly": "Enabled",
                },
                {"name": "models", "mountPath": "/also-models", "subPath": "blobs"},
            ],
        },
    ),
]


def _values_file(tmp_path: Path, values: dict[str, Any]) -> Path:
    path = tmp_path / "values.json"
    path.write_text(json.dumps({**MODELS, **values}), encoding="utf-8")
    return path


def _render(version: str, values_file: Path, *extra: str) -> str:
    return helm_template_text(
        helm_binary(version),
        CHART,
        [values_file],
        release=RELEASE,
        namespace=NAMESPACE,
        api_versions=API_VERSIONS,
        extra_args=extra,
    )


@pytest.mark.parametrize(
    ("values", "schema_path", "server_says"),
    [case[1:] for case in SCHEMA_CASES],
    ids=[case[0] for case in SCHEMA_CASES],
)
def test_the_schema_refuses_what_the_api_server_refuses(
    tmp_path: Path, values: dict[str, Any], schema_path: str, server_says: str
) -> None:
    values_file = _values_file(tmp_path, values)
    for version in HELM_VERSIONS:
        with pytest.raises(HelmError) as refused:
            _render(version, values_file)
        assert "values don't meet the specifications of the schema" in refused.value.stderr
        assert schema_path in refused.value.stderr, refused.value.stderr
    unchecked = _render(HELM_VERSIONS[0], values_file, "--skip-schema-validation")
    [errors] = apiserver_errors([unchecked], NAMESPACE)
    assert any(server_says in error for error in errors), errors


@pytest.mark.parametrize(
    ("values", "message"),
    [case[1:] for case in TEMPLATE_CASES],
    ids=[case[0] for case in TEMPLATE_CASES],
)
def test_the_template_rules_refuse_what_the_api_server_refuses(
    tmp_path: Path, values: dict[str, Any], message: str
) -> None:
    values_file = _values_file(tmp_path, values)
    for version in HELM_VERSIONS:
        with pytest.raises(HelmError) as refused:
            _render(version, values_file)
        assert message in refused.value.stderr, refused.value.stderr


def test_the_valid_twins_render_and_the_api_server_accepts_them(tmp_path: Path) -> None:
    texts = []
    for name, values in VALID_TWINS:
        folder = tmp_path / name
        folder.mkdir()
        texts.append(_render(HELM_VERSIONS[0], _values_file(folder, values)))
    errors = apiserver_errors(texts, NAMESPACE)
    assert dict(zip([name for name, _ in VALID_TWINS], errors, strict=True)) == {
        name: [] for name, _ in VALID_TWINS
    }


def test_a_quantity_exponent_of_four_digits_is_the_one_rule_stricter_than_the_cluster(
    tmp_path: Path,
) -> None:
    """The API server takes 1e1000 bytes, but its parser (and catalog-gen's exact arithmetic)
    spins on an exponent like 1e1000000000: quantities keep exponents to three digits, 10^999,
    far past any resource a cluster holds. The one place the chart is stricter on purpose."""
    values_file = _values_file(tmp_path, {"cache": {"mode": "sharedPVC", "size": "1e1000"}})
    for version in HELM_VERSIONS:
        with pytest.raises(HelmError) as refused:
            _render(version, values_file)
        assert "/cache/size" in refused.value.stderr
    unchecked = _render(HELM_VERSIONS[0], values_file, "--skip-schema-validation")
    assert apiserver_errors([unchecked], NAMESPACE) == [[]]


# (cidr, except): catalog-gen's own ipBlock rule (check/guardrails.py), which no schema or sprig
# function can compute, held to the API server's ValidateIPBlock on the chart's NetworkPolicy.
IP_BLOCKS = [
    ("10.0.0.0/8", "10.1.0.0/16"),
    ("10.0.0.0/8", "192.168.0.0/16"),
    ("10.0.0.0/8", "10.0.0.0/8"),
    ("10.0.0.0/8", "10.0.0.0/7"),
    ("10.0.0.0/8", "fd00::/8"),
    ("10.1.2.3/8", "10.200.0.0/16"),
    ("0.0.0.0/0", "169.254.0.0/16"),
    ("fd00::/8", "fd00:1::/32"),
    ("fd00::/8", "fe80::/10"),
    ("fd00::/8", "10.0.0.0/8"),
    ("2001:db8::/32", "2001:db8::/32"),
]


def _refused_by_the_api_server(
    tmp_path: Path, cases: list[dict[str, Any]], error: str
) -> list[bool]:
    """For each case's values, rendered, whether the API server's validation gives an error
    holding error (one validation run for all of them)."""
    texts = []
    for index, values in enumerate(cases):
        folder = tmp_path / str(index)
        folder.mkdir()
        texts.append(_render(HELM_VERSIONS[0], _values_file(folder, values)))
    return [
        any(error in found for found in errors) for errors in apiserver_errors(texts, NAMESPACE)
    ]


def test_catalog_gens_ip_block_rule_is_the_api_servers(tmp_path: Path) -> None:
    cases: list[dict[str, Any]] = [
        {"networkPolicy": {"enabled": True, "registry": {"peers": [peer]}}}
        for peer in (
            {"ipBlock": {"cidr": cidr, "except": [excluded]}} for cidr, excluded in IP_BLOCKS
        )
    ]
    verdicts = [bool(list(ip_block_refusals(values))) for values in cases]
    refused = _refused_by_the_api_server(tmp_path, cases, "must be a strict subset of `cidr`")
    assert dict(zip(IP_BLOCKS, verdicts, strict=True)) == dict(zip(IP_BLOCKS, refused, strict=True))
    assert any(refused)
    assert not all(refused)


# (resource, quantity): catalog-gen's hugepages page-size rule (check/guardrails.py), which the
# chart cannot compute, held to the API server's IsHugePageResourceValueDivisible on the server
# container, each quantity as its request and its limit. A quantity counts in whole bytes rounded
# up (Quantity.Value()); 0 is a multiple of every page size; a page size is positive and whole.
HUGEPAGES: list[tuple[str, str | int]] = [
    ("hugepages-2Mi", "4Mi"),
    ("hugepages-2Mi", "2Mi"),
    ("hugepages-2Mi", "1Mi"),
    ("hugepages-2Mi", "3Mi"),
    ("hugepages-2Mi", "0"),
    ("hugepages-2Mi", 0),
    ("hugepages-2Mi", 4194304),
    ("hugepages-2Mi", "2097152.5"),
    ("hugepages-2Mi", "2097151.5"),
    ("hugepages-2Mi", "4096Ki"),
    ("hugepages-2Mi", "1Gi"),
    ("hugepages-2Mi", "4e6"),
    ("hugepages-1Gi", "2Gi"),
    ("hugepages-1Gi", "1536Mi"),
    ("hugepages-1Gi", "1G"),
    ("hugepages-2M", "4M"),
    ("hugepages-2M", "2Mi"),
    ("hugepages-1500m", "3"),
    ("hugepages-0", "0"),
]


def test_catalog_gens_hugepages_rule_is_the_api_servers(tmp_path: Path) -> None:
    cases: list[dict[str, Any]] = [
        {"resources": {"requests": {resource: quantity}, "limits": {resource: quantity}}}
        for resource, quantity in HUGEPAGES
    ]
    verdicts = [
        hugepages_refusal(resource, quantity) is not None for resource, quantity in HUGEPAGES
    ]
    refused = _refused_by_the_api_server(tmp_path, cases, "is not positive integer multiple of")
    assert dict(zip(HUGEPAGES, verdicts, strict=True)) == dict(zip(HUGEPAGES, refused, strict=True))
    assert any(refused)
    assert not all(refused)
