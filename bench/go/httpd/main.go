// httpd: the Go reference for examples/http_server.c (bench/http.sh).
//
// The same two endpoints with the standard library only, written the way a
// Go programmer would: net/http, one goroutine per connection (the
// library's), crypto/hmac. GOMAXPROCS sets the cores it uses.
//
//	go build -o httpd . && HTTP_SERVER_KEY_HEX=... ./httpd --port 8080
//
//	GET /       "Hello, world\n"
//	POST /mac   HMAC-SHA256 of the body (at most 16 KiB) under the key, hex + "\n"
//
// The key: HTTP_SERVER_KEY_HEX (hex), else random. Prints
// "listening on 127.0.0.1:PORT". Read and write timeouts follow --deadline
// (milliseconds), as the C server's per-request deadline does.
package main

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"time"
)

const maxBody = 16384

func main() {
	port := flag.Int("port", 0, "TCP port on 127.0.0.1 (0: pick one)")
	deadline := flag.Int("deadline", 10000, "read/write timeout in milliseconds")
	flag.Parse()

	key := make([]byte, 32)
	if h := os.Getenv("HTTP_SERVER_KEY_HEX"); h != "" {
		var err error
		if key, err = hex.DecodeString(h); err != nil || len(key) < 16 {
			log.Fatal("HTTP_SERVER_KEY_HEX: 16 to 64 bytes in hex")
		}
	} else if _, err := rand.Read(key); err != nil {
		log.Fatal(err)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "405 Method Not Allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "Hello, world\n")
	})
	mux.HandleFunc("/mac", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", "POST")
			http.Error(w, "405 Method Not Allowed", http.StatusMethodNotAllowed)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
		if err != nil {
			http.Error(w, "413 Content Too Large", http.StatusRequestEntityTooLarge)
			return
		}
		m := hmac.New(sha256.New, key)
		m.Write(body)
		out := make([]byte, 65)
		hex.Encode(out, m.Sum(nil))
		out[64] = '\n'
		w.Header().Set("Content-Type", "text/plain")
		w.Write(out)
	})

	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", *port))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("listening on %s\n", ln.Addr())
	d := time.Duration(*deadline) * time.Millisecond
	srv := &http.Server{Handler: mux, ReadTimeout: d, WriteTimeout: d, MaxHeaderBytes: 8192}
	log.Fatal(srv.Serve(ln))
}
