// The Argo CD ApplicationSet renderer the tests run: Go text/template with the function set and
// the library versions of Argo CD v3.5.x (its go.mod pins sprig v3.3.0, gosimple/slug v1.15.0,
// sigs.k8s.io/yaml v1.6.0; the indirect versions below are the ones its go.mod resolves, so that
// sprig's functions behave as in Argo CD).
module github.com/example-org/ollama-inference-load/tools/argocd-render

go 1.26

require (
	github.com/Masterminds/sprig/v3 v3.3.0
	github.com/gosimple/slug v1.15.0
	sigs.k8s.io/yaml v1.6.0
)

require (
	dario.cat/mergo v1.0.2 // indirect
	github.com/Masterminds/goutils v1.1.1 // indirect
	github.com/Masterminds/semver/v3 v3.4.0 // indirect
	github.com/google/uuid v1.6.1-0.20241114170450-2d3c2a9cc518 // indirect
	github.com/gosimple/unidecode v1.0.1 // indirect
	github.com/huandu/xstrings v1.5.0 // indirect
	github.com/mitchellh/copystructure v1.2.0 // indirect
	github.com/mitchellh/reflectwalk v1.0.2 // indirect
	github.com/shopspring/decimal v1.4.0 // indirect
	github.com/spf13/cast v1.7.1 // indirect
	go.yaml.in/yaml/v2 v2.4.4 // indirect
	golang.org/x/crypto v0.55.0 // indirect
)
