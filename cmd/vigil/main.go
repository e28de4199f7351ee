// Command vigil is the high-availability cluster manager: node daemon,
// witness, operator CLI and lab, in one binary.
package main

import (
	"context"
	"os"

	"github.com/vigil-ha/vigil/internal/cli"
)

func main() {
	os.Exit(cli.Run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
