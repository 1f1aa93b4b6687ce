// Command posetrain trains, evaluates and serves top-down human-pose
// networks with SGD, Adam, SAM and BSAM.
//
// Without a sub-command it trains (see train.go). Sub-commands register
// themselves in the commands table from their own files.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
)

// command is one sub-command: it parses its own flags from args and returns
// the process exit code.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

// commands maps a sub-command name to its implementation. Files add to it
// from init functions.
var commands = map[string]command{}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name := args[0]
		if name == "help" {
			usage(stderr)
			return 0
		}
		c, ok := commands[name]
		if !ok {
			fmt.Fprintf(stderr, "posetrain: unknown command %q\n", name)
			usage(stderr)
			return 2
		}
		return c.run(ctx, args[1:], stdout, stderr)
	}
	if c, ok := commands["train"]; ok {
		return c.run(ctx, args, stdout, stderr)
	}
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: posetrain [train flags] | posetrain <command> [flags]")
	fmt.Fprintln(w, "commands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
}
