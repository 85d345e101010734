# SPDX-License-Identifier: MIT
"""The configuration file: its errors and their messages (file:line:col,
key path, what was expected and found), the default file, ${VAR}
substitution, --config-override, --output-file, `config check` and the
enabled switch."""

import os

from e2e_common import CONFIG, CSV_COLUMNS, CSV_DEFAULT_CONFIG, PLUGIN_DIR, AgentTestCase, main, needs_csv

INIT_FAILED = "ERROR agent: plugin csv v0.2.0 failed to initialize: invalid configuration: "


@needs_csv
class TestConfigErrors(AgentTestCase):
    def run_bad(self, text, *args, plugin_dir=False):
        self.write_config(text)
        res = self.agent(*args, "exec", "true", plugin_dir=plugin_dir)
        self.assertNotEqual(res.returncode, 0, res)
        self.assert_exit(res, 1)
        # the child is never spawned when the config is wrong
        self.assert_not_in_stderr("Child process", res)
        return res

    def test_unknown_key(self):
        res = self.run_bad('[plugins.csv]\noutput_path = "out.csv"\n'
                           "bad_config_option___ = true\n")
        self.assert_in_stderr("invalid configuration", res)
        self.assert_log("ERROR", "agent", "alumet-config.toml:3:1: "
                        "plugins.csv.bad_config_option___: unknown key", res)
        self.assert_log("ERROR", "agent", "plugin csv v0.2.0: invalid configuration: 1 unknown "
                        "key (see above)", res)
        self.assert_log("ERROR", "agent", "startup failure: 1 plugin failed to initialize", res)

    def test_unknown_key_with_dotted_key(self):
        # upstream's e2e test writes the key in a dotted form at the top level
        res = self.run_bad("plugins.csv.bad_config_option___ = true\n")
        self.assert_in_stderr("invalid configuration", res)
        self.assert_log("ERROR", "agent", "alumet-config.toml:1:13: "
                        "plugins.csv.bad_config_option___: unknown key", res)

    def test_typo_suggests_the_key(self):
        res = self.run_bad('[plugins.csv]\noutptu_path = "out.csv"\n')
        self.assert_log("ERROR", "agent", "alumet-config.toml:2:1: plugins.csv.outptu_path: "
                        "unknown key, did you mean 'output_path'?", res)
        self.assertFalse(os.path.exists(self.path("out.csv")))

    def test_wrong_type(self):
        res = self.run_bad('[plugins.csv]\nforce_flush = "yes"\n')
        self.assertIn(INIT_FAILED + 'alumet-config.toml:2:15: plugins.csv.force_flush: '
                      'expected a boolean, got string "yes"', res.stderr.splitlines(), res)

    def test_wrong_char(self):
        res = self.run_bad('[plugins.csv]\ncsv_delimiter = 59\n')
        self.assert_in_stderr("alumet-config.toml:2:17: plugins.csv.csv_delimiter: expected ", res)
        self.assert_in_stderr(", got integer 59", res)

    def test_toml_syntax_error(self):
        res = self.run_bad('[plugins.csv]\nforce_flush true\n')
        self.assert_log("ERROR", "agent", "could not load config file: alumet-config.toml:2:13: "
                        "expected '=' after a key", res)

    def test_toml_unterminated_string(self):
        res = self.run_bad('[plugins.csv]\noutput_path = "out.csv\nforce_flush = true\n')
        self.assert_log("ERROR", "agent", "could not load config file: alumet-config.toml:2:15: "
                        "unterminated string", res)

    def test_unquoted_string_hint(self):
        res = self.run_bad('[plugins.csv]\noutput_path = out.csv # here\n')
        self.assert_log("ERROR", "agent", "could not load config file: alumet-config.toml:2:15: "
                        'invalid value; strings need quotes: output_path = "out.csv"', res)
        res = self.run_bad('[plugins.csv]\nx = [a, b]\n')
        self.assert_log("ERROR", "agent", "could not load config file: alumet-config.toml:2:6: "
                        'invalid value; strings need quotes: "a"', res)

    def test_plugin_table_outside_plugins(self):
        for text, line in (('[plugin.csv]\noutput_path = "o.csv"\n',
                            "1:2: [plugin.csv]: unknown table, did you mean [plugins.csv]?"),
                           ('[csv]\noutput_path = "o.csv"\n',
                            "1:2: [csv]: unknown table, did you mean [plugins.csv]?"),
                           ('[plugns.csv]\n',
                            "1:2: [plugns.csv]: unknown table, did you mean [plugins.csv]?")):
            with self.subTest(text=text):
                self.write_config(text)
                res = self.agent("config", "check")
                self.assert_exit(res, 1)
                self.assert_log("ERROR", "agent", f"alumet-config.toml:{line}", res)
                self.assertEqual(res.stderr.count("ERROR"), 1, res.stderr)

    def test_unknown_plugin(self):
        # far from every built plugin: a plugin of another build (upstream's
        # quarch...), ignored with a warning (tests/e2e/test_upstream_config.py)
        self.write_config('[plugins.csv]\n\n[plugins.nope]\nx = 1\n')
        res = self.agent("exec", "true")
        self.assert_exit(res, 0)
        self.assert_log("WARN", "agent", "alumet-config.toml:3:10: plugin 'nope' is not built "
                        "into this agent; section ignored", res)

    def test_unknown_plugin_suggestion(self):
        res = self.run_bad("[plugins.cvs]\n")
        self.assert_log("ERROR", "agent", "alumet-config.toml:1:10: unknown plugin 'cvs' in "
                        "configuration, did you mean 'csv'?", res)

    def test_plugin_section_not_a_table(self):
        res = self.run_bad("[plugins]\ncsv = 3\n")
        self.assert_in_stderr("unexpected type for plugins.csv: expected table, got integer",
                              res)

    def test_enabled_not_a_bool(self):
        res = self.run_bad('[plugins.csv]\nenabled = "no"\n')
        self.assert_in_stderr("alumet-config.toml:2:11: unexpected type for "
                              "plugins.csv.enabled: expected boolean, got string", res)

    def test_bad_queue_policy(self):
        res = self.run_bad('output_queue_policy = "fast"\n[plugins.csv]\n')
        self.assert_log("ERROR", "agent", "invalid general config: alumet-config.toml:1:23: "
                        'output_queue_policy: expected "block" or "drop_oldest", got "fast"',
                        res)

    def test_bad_queue_size(self):
        res = self.run_bad('output_queue_size = 0\n[plugins.csv]\n')
        self.assert_in_stderr("output_queue_size: expected a positive integer", res)

    def test_bad_duration_in_plugin(self):
        res = self.run_bad('[plugins.test-source]\npoll_interval = "fast"\n', plugin_dir=True)
        self.assert_in_stderr("plugin test-source v0.1.0 failed to initialize: invalid "
                              "configuration: alumet-config.toml:2:17: "
                              'plugins.test-source.poll_interval: invalid duration "fast"', res)

    def test_missing_file_no_default_config(self):
        missing = self.path("missing.toml")
        res = self.agent("--no-default-config", "--config", missing, "exec", "true")
        self.assert_exit(res, 1)
        self.assert_in_stderr(missing, res)
        self.assert_log("ERROR", "agent", "could not load config file: could not load config "
                        f"from '{missing}': No such file or directory", res)
        self.assertFalse(os.path.exists(missing))

    def test_config_check_never_writes(self):
        for args in ((), ("--config", "other.toml")):
            with self.subTest(args=args):
                name = args[1] if args else CONFIG
                res = self.agent(*args, "config", "check")
                self.assert_exit(res, 1)
                self.assert_log("ERROR", "agent", f"configuration file '{name}' not found "
                                "('config check' writes nothing): create it with 'alumet-agent "
                                f"{' '.join(args) + ' ' if args else ''}config regen', or point "
                                "--config (or ALUMET_CONFIG) at an existing file", res)
                self.assertFalse(os.path.exists(self.path(name)))
                self.assertEqual(res.stdout, "")

    def test_config_in_missing_dir(self):
        bad = self.path("nonexistent/dir/x.toml")
        res = self.agent("--config", bad, "exec", "true")
        self.assert_exit(res, 1)
        self.assertIn(bad, res.stdout + res.stderr)
        self.assert_log("ERROR", "agent", "write (of default config) failed: cannot create "
                        f"'{bad}': No such file or directory", res)

    def test_config_in_missing_absolute_dir(self):
        res = self.agent("--config", "/nonexistent/dir/x.toml", "run")
        self.assert_exit(res, 1)
        self.assertIn("/nonexistent/dir/x.toml", res.stdout + res.stderr)

    def test_missing_variable(self):
        res = self.run_bad('[plugins.csv]\noutput_path = "${E2E_NO_SUCH_VARIABLE}"\n')
        self.assert_in_stderr("could not load config file: alumet-config.toml:2:", res)
        self.assert_in_stderr("the environment variable E2E_NO_SUCH_VARIABLE does not exist",
                              res)

    def test_bad_override(self):
        self.write_config('[plugins.csv]\noutput_path = "out.csv"\n')
        res = self.agent("--config-override", "plugins.csv.output_path=", "exec", "true")
        self.assert_exit(res, 1)
        self.assert_in_stderr("invalid config overrides: config override is not a valid TOML "
                              "table: plugins.csv.output_path=", res)

    def test_unknown_key_in_override(self):
        self.write_config('[plugins.csv]\noutput_path = "out.csv"\n')
        res = self.agent("--config-override", "plugins.csv.nope = 1", "exec", "true")
        self.assert_exit(res, 1)
        self.assert_in_stderr("plugins.csv.nope: unknown key", res)


@needs_csv
class TestConfigLoading(AgentTestCase):
    def test_default_config_is_written(self):
        # --plugins csv: the other built-in plugins may need hardware
        res = self.agent("--plugins", "csv", "exec", "true")
        self.assert_exit(res, 0)
        self.assert_log("INFO", "agent", f"Default configuration file written to: {CONFIG}", res)
        self.assertEqual(self.read(CONFIG), CSV_DEFAULT_CONFIG)
        # csv is enabled by the default config, with its default output path;
        # nothing was measured (no source), the file has the header only
        self.assertEqual(self.read("alumet-output.csv"), ";".join(CSV_COLUMNS) +
                         ";__late_attributes\n")

    def test_empty_config_with_plugins_flag_uses_defaults(self):
        self.write_config("")
        res = self.agent("--plugins", "csv", "exec", "sleep", "0")
        self.assert_exit(res, 0)
        self.assertTrue(os.path.exists(self.path("alumet-output.csv")))
        self.assertEqual(self.read(CONFIG), "")

    def test_config_env_var_and_flag(self):
        self.write_config('[plugins.csv]\noutput_path = "env.csv"\n', name="env.toml")
        self.write_config('[plugins.csv]\noutput_path = "flag.csv"\n', name="flag.toml")
        res = self.agent("exec", "true", env={"ALUMET_CONFIG": "env.toml"})
        self.assert_exit(res, 0)
        self.assertTrue(os.path.exists(self.path("env.csv")))
        res = self.agent("--config", "flag.toml", "exec", "true",
                         env={"ALUMET_CONFIG": "env.toml"})
        self.assert_exit(res, 0)
        self.assertTrue(os.path.exists(self.path("flag.csv")))
        self.assertFalse(os.path.exists(self.path(CONFIG)))

    def test_variable_substitution(self):
        self.write_config('[plugins.csv]\noutput_path = "${E2E_CSV_NAME}.csv"\n')
        res = self.agent("exec", "true", env={"E2E_CSV_NAME": "from-env"})
        self.assert_exit(res, 0)
        self.assertTrue(os.path.exists(self.path("from-env.csv")), os.listdir(self.dir))

    def test_variable_substitution_escape(self):
        self.write_config('[plugins.csv]\noutput_path = "\\${E2E_CSV_NAME}.csv"\n')
        res = self.agent("exec", "true", env={"E2E_CSV_NAME": "from-env"})
        self.assert_exit(res, 0)
        self.assertTrue(os.path.exists(self.path("${E2E_CSV_NAME}.csv")), os.listdir(self.dir))

    def test_config_override(self):
        self.write_config('[plugins.csv]\noutput_path = "file.csv"\n')
        res = self.agent("--config-override", 'plugins.csv.output_path="x.csv"', "exec", "true")
        self.assert_exit(res, 0)
        self.assertTrue(os.path.exists(self.path("x.csv")))
        self.assertFalse(os.path.exists(self.path("file.csv")))

    def test_config_override_repeated_last_wins(self):
        self.write_config('[plugins.csv]\noutput_path = "file.csv"\n')
        res = self.agent("--config-override", 'plugins.csv.output_path="x.csv"',
                         "--config-override=plugins.csv.output_path='y.csv'", "exec", "true")
        self.assert_exit(res, 0)
        self.assertEqual(sorted(f for f in os.listdir(self.dir) if f.endswith(".csv")),
                         ["y.csv"])

    def test_output_file(self):
        # upstream's args_output_exec: the file named by --output-file gets the data
        self.write_config('[plugins.csv]\noutput_path = "file.csv"\n\n[plugins.test-source]\n'
                          'count_file = "count"\n')
        res = self.agent("--output-file", "o.csv", "exec", "true", plugin_dir=True)
        self.assert_exit(res, 0)
        self.assert_sequence(self.csv_values("o.csv"), self.read_count())
        self.assertGreater(self.read_count(), 0)
        self.assertFalse(os.path.exists(self.path("file.csv")))

    def test_output_file_wins_over_override(self):
        self.write_config('[plugins.csv]\noutput_path = "file.csv"\n')
        res = self.agent("--output-file", "o.csv", "--config-override",
                         'plugins.csv.output_path="x.csv"', "exec", "true")
        self.assert_exit(res, 0)
        self.assertEqual(sorted(f for f in os.listdir(self.dir) if f.endswith(".csv")),
                         ["o.csv"])

    def test_output_file_with_quotes(self):
        self.write_config('[plugins.csv]\n')
        res = self.agent("--output-file", 'we"ird\\name.csv', "exec", "true")
        self.assert_exit(res, 0)
        self.assertTrue(os.path.exists(self.path('we"ird\\name.csv')), os.listdir(self.dir))

    def test_enabled_false(self):
        self.write_config('[plugins.csv]\nenabled = false\n\n[plugins.test-source]\n')
        res = self.agent("--plugin-dir", PLUGIN_DIR, "plugins", "list",
                         "--status")
        self.assert_exit(res, 0)
        enabled, disabled, closing = res.stdout.split("\n\n")
        self.assertEqual(enabled, "Enabled plugins:\n- test-source v0.1.0")
        disabled = disabled.splitlines()
        self.assertEqual(disabled[:2], ["Disabled plugins:", "- csv v0.2.0"])
        self.assertIn("- slow-output v0.1.0", disabled)
        self.assertNotIn("- test-source v0.1.0", disabled)

    def test_enabled_false_measures_nothing(self):
        self.write_config('[plugins.csv]\nenabled = false\n')
        res = self.agent("exec", "true")
        self.assert_exit(res, 0)
        self.assert_log("WARN", "agent", "no plugin is enabled: nothing will be measured; enable "
                        "plugins in the config file or with --plugins", res)
        self.assertFalse(os.path.exists(self.path("alumet-output.csv")))

    def test_plugins_flag_overrides_enabled(self):
        self.write_config('[plugins.csv]\nenabled = false\noutput_path = "out.csv"\n')
        res = self.agent("--plugins", "csv", "exec", "true")
        self.assert_exit(res, 0)
        self.assertTrue(os.path.exists(self.path("out.csv")))

    def test_plugins_flag_unknown_plugin(self):
        self.write_config('[plugins.csv]\n')
        res = self.agent("--plugins", "csv,nope", "exec", "true")
        self.assert_exit(res, 1)
        self.assert_log("ERROR", "agent",
                        "Plugin nope is not available in this binary of Alumet Agent.", res)


@needs_csv
class TestConfigCheck(AgentTestCase):
    def test_valid(self):
        self.write_config('[plugins.csv]\noutput_path = "out.csv"\n')
        res = self.agent("config", "check")
        self.assert_exit(res, 0)
        self.assertEqual(res.stdout, f"configuration '{CONFIG}' is valid\n")
        # nothing is measured: the output file is not even created
        self.assertFalse(os.path.exists(self.path("out.csv")))

    def test_every_problem_is_listed(self):
        self.write_config('[plugins.csv]\noutput_path = "out.csv"\nbad_csv_key = 1\n\n'
                          '[plugins.test-source]\nbad_source_key = 2\n')
        res = self.agent("--plugin-dir", PLUGIN_DIR, "config", "check")
        self.assert_exit(res, 1)
        self.assertEqual(res.stdout, "")
        self.assert_log("ERROR", "agent",
                        "alumet-config.toml:3:1: plugins.csv.bad_csv_key: unknown key", res)
        self.assert_log("ERROR", "agent", "alumet-config.toml:6:1: "
                        "plugins.test-source.bad_source_key: unknown key", res)
        self.assertEqual(res.stderr.count(": unknown key"), 2, res)
        self.assert_in_stderr(f"configuration '{CONFIG}' is invalid (see the errors above)", res)

    def test_problems_of_every_kind(self):
        self.write_config('max_update_interval = 3\n\n[plugins.csv]\nforce_flush = 1\n\n'
                          '[plugins.cvs]\n')
        res = self.agent("config", "check")
        self.assert_exit(res, 1)
        self.assert_in_stderr("alumet-config.toml:6:10: unknown plugin 'cvs' in configuration, "
                              "did you mean 'csv'?", res)
        self.assert_in_stderr("alumet-config.toml:1:23: max_update_interval: expected a duration "
                              'such as "1s", got integer 3', res)
        self.assert_in_stderr("alumet-config.toml:4:15: plugins.csv.force_flush: expected a "
                              "boolean, got integer 1", res)


if __name__ == "__main__":
    main()
