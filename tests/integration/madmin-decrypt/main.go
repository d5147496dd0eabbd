// Decrypts madmin bodies with madmin-go's own DecryptData, the function MinIO's admin handlers
// call, so the TypeScript encryption (components/objectstore/minio-admin.ts) is checked against
// the real implementation rather than against a second reading of the format.
//
// Usage: go run . <password> < lines of hex ciphertext; prints one line of hex plaintext each,
// or "error: <message>" for a body DecryptData rejects.
package main

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"fmt"
	"os"

	"github.com/minio/madmin-go/v3"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: madmin-decrypt <password> < hex lines")
		os.Exit(2)
	}
	password := os.Args[1]
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<26)
	for in.Scan() {
		data, err := hex.DecodeString(in.Text())
		if err != nil {
			fmt.Printf("error: not hex: %v\n", err)
			continue
		}
		plain, err := madmin.DecryptData(password, bytes.NewReader(data))
		if err != nil {
			fmt.Printf("error: %v\n", err)
			continue
		}
		fmt.Println(hex.EncodeToString(plain))
	}
	if err := in.Err(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
