// Command goparse reads "kind<TAB>text" lines and prints "ok" or "error" for each, parsing text
// as Ollama's api.FormatParams does for a PARAMETER of that kind (api/types.go at v0.32.0):
// strconv.ParseInt(text, 10, 64), ParseFloat(text, 32), ParseBool. The oracle of
// catalog_gen/check/modelfile_parameters.py (tests/unit/test_modelfile_parameters.py).
package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

func main() {
	scanner := bufio.NewScanner(os.Stdin)
	scanner.Buffer(make([]byte, 1<<20), 1<<20)
	for scanner.Scan() {
		kind, text, _ := strings.Cut(scanner.Text(), "\t")
		var err error
		switch kind {
		case "int":
			_, err = strconv.ParseInt(text, 10, 64)
		case "float":
			_, err = strconv.ParseFloat(text, 32)
		case "bool":
			_, err = strconv.ParseBool(text)
		}
		if err != nil {
			fmt.Println("error")
		} else {
			fmt.Println("ok")
		}
	}
}
