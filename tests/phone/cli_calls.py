"""Calling the ``phone`` command in this process, for the phone tests:
``run_cli`` returns what a shell would see, ``error_lines`` picks argparse's
one-line errors out of stderr."""


def run_cli(argv, capsys):
    """phone.cli.main(argv) in this process -> (exit code, stdout, stderr);
    ``capsys`` is the test's pytest fixture (its buffers are read and emptied)."""
    from phone.cli import main
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def error_lines(err, prog):
    """The lines of ``err`` that start with "<prog>: error:"."""
    return [ln for ln in err.splitlines() if ln.startswith(f"{prog}: error:")]
