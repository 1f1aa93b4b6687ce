// Command posetrain trains, evaluates and serves top-down human-pose
// networks with SGD, Adam, SAM and BSAM.
//
// Without a sub-command it trains (see train.go). Sub-commands register
// themselves in the commands table from their own files.
package main

import (
	"context"
	"errors"
	"flag"
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
			// "posetrain help" is "posetrain -h" (the commands, then the
			// training flags); "posetrain help CMD" is "posetrain CMD -h".
			h := []string{"-h"}
			if len(args) > 1 {
				h = []string{args[1], "-h"}
			}
			return run(ctx, h, stdout, stderr)
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

// usage lists the commands with their one-line summaries.
func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: posetrain [train flags]")
	fmt.Fprintln(w, "       posetrain <command> [flags]   (posetrain <command> -h lists its flags)")
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

// parseFlags parses args into fs and refuses positional arguments, which no
// command takes: a stray word is most often a value whose flag is missing
// or a path after a boolean flag, and flag parsing stops at it, so it and
// every flag after it would otherwise be ignored. When the command must not
// go on, ok is false and exit is its exit code: 0 after -h (the usage is
// printed), 2 for a usage error (reported on fs.Output(), naming the stray
// arguments). hint, if not nil, may add a sentence about the first stray
// argument given the argument before it.
func parseFlags(fs *flag.FlagSet, args []string, hint func(prev, stray string) string) (exit int, ok bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, false
		}
		return 2, false
	}
	if fs.NArg() == 0 {
		return 0, true
	}
	name := "posetrain"
	if fs.Name() != name {
		name += " " + fs.Name()
	}
	stray := fs.Args()
	quoted := make([]string, len(stray))
	for i, a := range stray {
		quoted[i] = fmt.Sprintf("%q", a)
	}
	msg := fmt.Sprintf("%s: unexpected argument %s: it takes flags only", name, quoted[0])
	if len(stray) > 1 {
		msg = fmt.Sprintf("%s: unexpected arguments %s: it takes flags only (parsing stops at the first, so flags after it are not read)", name, strings.Join(quoted, " "))
	}
	if hint != nil {
		prev := ""
		if i := len(args) - len(stray) - 1; i >= 0 {
			prev = args[i]
		}
		if h := hint(prev, stray[0]); h != "" {
			msg += "; " + h
		}
	}
	fmt.Fprintln(fs.Output(), msg)
	return 2, false
}
