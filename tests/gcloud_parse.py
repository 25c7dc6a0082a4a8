"""Runs under gcloud's own Python, not the project's: builds gcloud's CLI once, exactly as
`gcloud` does (googlecloudsdk.gcloud_main.CreateCLI), and runs every command line read from stdin
(a JSON list of argument lists, without the leading "gcloud") through it. Prints a JSON list of
{"code", "stderr"}, one per command: what `gcloud <args>` would have exited with and written.

Starting gcloud costs about a second of CPU; 45 commands through one CLI cost a few. The parsing
is gcloud's own: the argument parser, the flags' types and the command's run up to its first
call for credentials.
"""

import json
import os
import sys
import tempfile


def main() -> None:
    sdk_lib = sys.argv[1]
    sys.path[:0] = [os.path.join(sdk_lib, "third_party"), sdk_lib]
    # Importable only once its directories are on the path.
    import googlecloudsdk.gcloud_main

    cli = googlecloudsdk.gcloud_main.CreateCLI([])
    commands = json.load(sys.stdin)
    saved_stderr = os.dup(2)
    results = []
    for args in commands:
        with tempfile.TemporaryFile("w+") as captured:
            sys.stderr.flush()
            os.dup2(captured.fileno(), 2)
            try:
                cli.Execute(args)
                code = 0
            except SystemExit as exit_:
                code = exit_.code if isinstance(exit_.code, int) else 1
            finally:
                sys.stderr.flush()
                os.dup2(saved_stderr, 2)
            captured.seek(0)
            results.append({"code": code, "stderr": captured.read()})
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
