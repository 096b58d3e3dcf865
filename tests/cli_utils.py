"""Run the CLI in-process and capture what a user would see."""


def run_cli(capsys, *argv):
    from dynamicnet.cli import main

    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err
