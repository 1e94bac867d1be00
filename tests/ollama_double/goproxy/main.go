// Command goproxy prints where Go's net/http sends a request to each URL given as an argument,
// with the proxy settings of its environment (http.ProxyFromEnvironment, which the ollama CLI's
// http.DefaultClient uses): the proxy's host[:port], or "direct". The double's proxy_for is
// tested against it (tests/scripts/test_double.py).
package main

import (
	"fmt"
	"net/http"
	"os"
)

func main() {
	for _, target := range os.Args[1:] {
		request, err := http.NewRequest(http.MethodGet, target, nil)
		if err != nil {
			fmt.Println("error", err)
			continue
		}
		proxy, err := http.ProxyFromEnvironment(request)
		switch {
		case err != nil:
			fmt.Println("error", err)
		case proxy == nil:
			fmt.Println("direct")
		default:
			fmt.Println(proxy.Host)
		}
	}
}
