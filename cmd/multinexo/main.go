// Command multinexo is the Multinexo Auth server and its operator commands.
package main

import (
	"os"

	"github.com/multinexo/auth/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], cli.Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Environ: os.Environ()}))
}
