# SPDX-License-Identifier: MIT
"""Command line: help, version, unknown commands and options, plugins list."""

import os
import re

from e2e_common import CONFIG, VERSION, AgentTestCase, main, needs_csv

COMMANDS = ["run", "exec", "watch", "config", "plugins", "doctor", "report", "help"]


class TestCli(AgentTestCase):
    def test_help(self):
        for flag in ("--help", "-h"):
            res = self.agent(flag)
            self.assert_exit(res, 0)
            self.assertTrue(res.stdout.startswith("Usage: alumet-agent [OPTIONS] [COMMAND]\n"),
                            res)
            listed = re.findall(r"^  ([a-z]+) +\S", res.stdout.split("Options:")[0], re.M)
            self.assertEqual(listed, COMMANDS, res)
            for opt in ("--config <CONFIG>", "--no-default-config", "--plugins <PLUGINS>",
                        "--config-override <CONFIG_OVERRIDE>", "--output-file <OUTPUT_FILE>",
                        "--plugin-dir <PLUGIN_DIR>", "-V, --version"):
                self.assertIn(opt, res.stdout)
            self.assertEqual(res.stderr, "")

    def test_help_command(self):
        res = self.agent("help")
        self.assert_exit(res, 0)
        self.assertEqual(res.stdout, self.agent("--help").stdout)
        res = self.agent("help", "exec")
        self.assert_exit(res, 0)
        self.assertIn("Usage: alumet-agent exec [OPTIONS] <PROGRAM> [ARGS]...", res.stdout)
        self.assertIn("--ignore-exit-code", res.stdout)

    def test_version(self):
        for flag in ("--version", "-V"):
            res = self.agent(flag)
            self.assert_exit(res, 0)
            self.assertEqual(res.stdout, f"alumet-agent {VERSION}\n")

    def test_unknown_command_suggests(self):
        res = self.agent("exce")
        self.assert_exit(res, 2)
        self.assert_in_stderr("error: unrecognized subcommand 'exce'", res)
        self.assert_in_stderr("tip: a similar subcommand exists: 'exec'", res)
        self.assertEqual(res.stdout, "")

    def test_unknown_command_far_from_all(self):
        res = self.agent("frobnicate")
        self.assert_exit(res, 2)
        self.assert_in_stderr("error: unrecognized subcommand 'frobnicate'", res)
        self.assert_not_in_stderr("tip:", res)

    def test_unknown_global_option(self):
        res = self.agent("--frobnicate", "run")
        self.assert_exit(res, 2)
        self.assert_in_stderr("error: unexpected argument '--frobnicate' found", res)

    def test_missing_option_value(self):
        res = self.agent("--config")
        self.assert_exit(res, 2)
        self.assert_in_stderr("error: a value is required for '--config <config>' but none was "
                              "supplied", res)

    def test_config_requires_subcommand(self):
        res = self.agent("config")
        self.assert_exit(res, 2)
        self.assert_in_stderr("'alumet-agent config' requires a subcommand", res)

    def test_plugins_requires_subcommand(self):
        res = self.agent("plugins")
        self.assert_exit(res, 2)
        self.assert_in_stderr("'alumet-agent plugins' requires a subcommand", res)


    def test_subcommand_help(self):
        # -h of any (sub)command: its own help on stdout, nothing on stderr,
        # no config read or written
        cases = [
            (("run", "-h"), "Run the agent and monitor the system\n\nUsage: alumet-agent run\n"),
            (("exec", "--help"), "Execute a command and observe its process\n\nUsage: "
             "alumet-agent exec [OPTIONS] <PROGRAM> [ARGS]...\n"),
            (("watch", "-h"), "Watch a running process\n\nUsage: alumet-agent watch <PID>\n"),
            (("config", "-h"), "Manipulate the configuration\n\nUsage: alumet-agent config "
             "<COMMAND>\n"),
            (("config", "regen", "-h"), "Regenerate the configuration file and stop\n\nUsage: "
             "alumet-agent config regen\n"),
            (("config", "help", "regen"), "Regenerate the configuration file and stop\n\n"
             "Usage: alumet-agent config regen\n"),
            (("config", "check", "--help"), "Check the configuration with the enabled plugins, "
             "measure nothing\n\nUsage: alumet-agent config check\n"),
            (("plugins", "-h"), "Show the plugins that are available\n\nUsage: alumet-agent "
             "plugins [OPTIONS] <COMMAND>\n"),
            (("plugins", "list", "-h"), "List the plugins that are available in this agent\n\n"
             "Usage: alumet-agent plugins list [OPTIONS]\n"),
            (("plugins", "list", "--status", "-h"), "List the plugins that are available in "
             "this agent\n\nUsage: alumet-agent plugins list [OPTIONS]\n"),
            (("plugins", "help", "list"), "List the plugins that are available in this agent\n"
             "\nUsage: alumet-agent plugins list [OPTIONS]\n"),
        ]
        for args, start in cases:
            with self.subTest(args=args):
                res = self.agent(*args)
                self.assert_exit(res, 0)
                self.assertTrue(res.stdout.startswith(start), res)
                self.assertTrue(res.stdout.endswith("  -h, --help  Print help\n") or
                                res.stdout.endswith("Print help\n"), res)
                self.assertEqual(res.stderr, "")
                self.assertFalse(os.path.exists(self.path(CONFIG)))

    def test_exec_help_after_program_goes_to_the_child(self):
        self.write_config("[plugins]\n")
        res = self.agent("exec", "sh", "-c", 'echo "$0"', "-h")
        self.assert_exit(res, 0)
        self.assertEqual(res.stdout, "-h\n")


class TestLogEnv(AgentTestCase):
    """RUST_LOG (upstream's variable) sets the levels like ALUMET_LOG, which
    wins when both are set."""

    def setUp(self):
        super().setUp()
        self.write_config("[plugins]\n")

    def test_rust_log(self):
        res = self.agent("exec", "--no-summary", "true", env={"RUST_LOG": "error"})
        self.assert_exit(res, 0)
        self.assertEqual(res.stderr, "")
        res = self.agent("exec", "--no-summary", "true", env={"RUST_LOG": "error,agent=info"})
        self.assert_exit(res, 0)
        self.assert_in_stderr("INFO  agent: Child process 'true' spawned with pid ", res)

    def test_alumet_log_wins(self):
        res = self.agent("exec", "true", env={"RUST_LOG": "error", "ALUMET_LOG": "info"})
        self.assert_exit(res, 0)
        self.assert_in_stderr("INFO  agent: Child process 'true' spawned with pid ", res)
        res = self.agent("exec", "--no-summary", "true",
                         env={"RUST_LOG": "debug", "ALUMET_LOG": "error"})
        self.assert_exit(res, 0)
        self.assertEqual(res.stderr, "")

    def test_unknown_level_is_an_error(self):
        valid = ("expected a level (off, error, warn, info, debug, trace) or TARGET=LEVEL "
                 "items separated by commas, such as \"info,rapl=debug\"")
        for var, spec, item in (("ALUMET_LOG", "verbose", "verbose"),
                                ("RUST_LOG", "info,alumet=loud", "alumet=loud"),
                                ("ALUMET_LOG", "=debug", "=debug")):
            with self.subTest(var=var, spec=spec):
                res = self.agent("exec", "--no-summary", "true", env={var: spec})
                self.assert_exit(res, 1)
                self.assertEqual(res.stderr, f"error: invalid {var} '{spec}': '{item}': "
                                 f"{valid}\n")


@needs_csv
class TestPluginsList(AgentTestCase):
    def test_plugins_list_format(self):
        res = self.agent("plugins", "list")
        self.assert_exit(res, 0)
        lines = res.stdout.split("\n")
        self.assertEqual(lines[0], "Available plugins:")
        self.assertIn("- csv v0.2.0", lines)
        i = 1
        while lines[i].startswith("- "):
            self.assertRegex(lines[i], r"^- [a-z0-9-]+ v\d+\.\d+\.\d+$")
            i += 1
        self.assertEqual(lines[i:], ["", "To enable or disable plugins, edit the configuration "
                                     "file or use the --plugins option.", ""])
        # no config is read or generated
        self.assertFalse(os.path.exists(self.path(CONFIG)))


if __name__ == "__main__":
    main()
