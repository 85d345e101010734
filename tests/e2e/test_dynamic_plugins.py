# SPDX-License-Identifier: MIT
"""Dynamic plugins: --plugin-dir and ALUMET_PLUGIN_DIR load every *.so of a
directory; a plugin built for another ABI is refused with both versions."""

import os

from e2e_common import ABI_PLUGIN_DIR, PLUGIN_DIR, AgentTestCase, main, needs_csv

# tests/plugins, loaded in file-name order
DYNAMIC = ["- failing-output v0.1.0", "- slow-output v0.1.0", "- test-source v0.1.0",
           "- test-transform-b v0.1.0", "- test-transform v0.1.0"]
ABI_ERROR = ("ERROR agent: cannot load plugin '{dir}/abi-mismatch.so': it was built for "
             "plugin ABI version 3, but this agent has ABI version 2; rebuild the plugin "
             "against this version of alumet")


class TestDynamicPlugins(AgentTestCase):
    def builtin_lines(self):
        out = self.agent("plugins", "list").stdout
        return [line for line in out.splitlines() if line.startswith("- ")]

    def check_list(self, res):
        self.assert_exit(res, 0)
        lines = [line for line in res.stdout.splitlines() if line.startswith("- ")]
        # built-in plugins first, then the dynamic ones
        self.assertEqual(lines, self.builtin_lines() + DYNAMIC, res)

    def test_plugin_dir_flag(self):
        self.check_list(self.agent("--plugin-dir", PLUGIN_DIR, "plugins", "list"))

    def test_plugin_dir_flag_with_equals(self):
        self.check_list(self.agent(f"--plugin-dir={PLUGIN_DIR}", "plugins", "list"))

    def test_plugin_dir_env(self):
        self.check_list(self.agent("plugins", "list", env={"ALUMET_PLUGIN_DIR": PLUGIN_DIR}))

    def test_flag_wins_over_env(self):
        res = self.agent("--plugin-dir", PLUGIN_DIR, "plugins", "list",
                         env={"ALUMET_PLUGIN_DIR": ABI_PLUGIN_DIR})
        self.check_list(res)
        self.assert_not_in_stderr("abi-mismatch", res)

    def test_abi_mismatch_is_refused(self):
        for args, env in ((["--plugin-dir", ABI_PLUGIN_DIR], None),
                          ([], {"ALUMET_PLUGIN_DIR": ABI_PLUGIN_DIR})):
            res = self.agent(*args, "plugins", "list", env=env)
            self.assertNotEqual(res.returncode, 0, res)
            self.assert_exit(res, 1)
            self.assert_in_stderr("built for plugin ABI version 3, but this agent has ABI "
                                  "version 2", res)
            self.assertIn(ABI_ERROR.format(dir=ABI_PLUGIN_DIR), res.stderr.splitlines(), res)
            self.assertEqual(res.stdout, "")

    def test_abi_mismatch_refused_for_run(self):
        res = self.agent("--plugin-dir", ABI_PLUGIN_DIR, "run")
        self.assert_exit(res, 1)
        self.assert_in_stderr("ABI version 3", res)
        # nothing was started
        self.assert_not_in_stderr("Initializing the plugins...", res)
        self.assertFalse(os.path.exists(self.path("alumet-config.toml")))

    def test_missing_plugin_dir(self):
        missing = self.path("no-such-dir")
        res = self.agent("--plugin-dir", missing, "plugins", "list")
        self.assert_exit(res, 1)
        self.assert_log("ERROR", "agent", f"cannot read the plugin directory '{missing}': "
                        "No such file or directory", res)

    def test_not_a_plugin(self):
        # a shared object without alumet_plugin_entry: the test plugins' dir
        # holds only plugins, so copy one of the system's libraries
        libs = [p for p in ("/lib/x86_64-linux-gnu/libm.so.6", "/lib64/libm.so.6",
                            "/usr/lib/libm.so.6", "/lib/aarch64-linux-gnu/libm.so.6")
                if os.path.exists(p)]
        if not libs:
            self.skipTest("no libm.so.6 found to copy")
        os.mkdir(self.path("plugins"))
        with open(libs[0], "rb") as src, open(self.path("plugins/libm.so"), "wb") as dst:
            dst.write(src.read())
        res = self.agent("--plugin-dir", self.path("plugins"), "plugins", "list")
        self.assert_exit(res, 1)
        self.assert_in_stderr(f"'{self.path('plugins')}/libm.so' is not an alumet plugin: it "
                              "does not export the symbol 'alumet_plugin_entry'", res)

    def test_plugins_flag_enables_dynamic_plugins(self):
        self.write_config("[plugins.test-source]\n")
        res = self.agent("--plugin-dir", PLUGIN_DIR, "--plugins", "test-source,slow-output",
                         "plugins", "list", "--status")
        self.assert_exit(res, 0)
        enabled = res.stdout.split("\n\n")[0].splitlines()
        self.assertEqual(enabled, ["Enabled plugins:", "- test-source v0.1.0",
                                   "- slow-output v0.1.0"], res)


@needs_csv
class TestDynamicPluginRuns(AgentTestCase):
    def test_source_from_plugin_dir_env(self):
        self.write_config('[plugins.test-source]\npoll_interval = "1h"\npoints_per_poll = 4\n'
                          'count_file = "count"\n\n[plugins.csv]\noutput_path = "out.csv"\n')
        res = self.agent("exec", "true", env={"ALUMET_PLUGIN_DIR": PLUGIN_DIR})
        self.assert_exit(res, 0)
        self.assert_in_stderr("    - test-source v0.1.0\n", res)
        self.assert_in_stderr("    - test_counter: U64 ()\n", res)
        self.assert_sequence(self.csv_values("out.csv"), self.read_count())


if __name__ == "__main__":
    main()
