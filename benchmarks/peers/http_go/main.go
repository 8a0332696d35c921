// The Go net/http peer of the http benchmark (benchmarks/http_bench.py):
// /hello answers "Hello, World!" as text/plain, as uco-httpd does.
// Run with GOMAXPROCS=1, pinned to one CPU.  Usage: http_go PORT
package main

import (
	"fmt"
	"net/http"
	"os"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: http_go PORT")
		os.Exit(2)
	}
	body := []byte("Hello, World!")
	http.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Write(body)
	})
	if err := http.ListenAndServe("127.0.0.1:"+os.Args[1], nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
