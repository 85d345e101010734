# SPDX-License-Identifier: MIT
"""Command line: help, version, unknown commands and options, plugins list."""

import os
import re

from e2e_common import CONFIG, VERSION, AgentTestCase, main, needs_csv

COMMANDS = ["run", "exec", "watch", "config", "plugins", "help"]


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
