# SPDX-License-Identifier: MIT
"""`config regen`: the default configuration of the enabled plugins, written
over the config file, in plugin-set order."""

import os

try:
    import tomllib  # Python >= 3.11 (Debian 12)
except ImportError:
    tomllib = None

from e2e_common import (CONFIG, CSV_DEFAULT_CONFIG, PLUGIN_DIR, TEST_SOURCE_DEFAULT_CONFIG,
                        AgentTestCase, main, needs_csv)

TEST_PLUGINS = "csv,test-source,test-transform,test-transform-b,slow-output,failing-output"


@needs_csv
class TestConfigRegen(AgentTestCase):
    def regen(self, *args, config=CONFIG):
        res = self.agent(*args, "config", "regen")
        self.assert_exit(res, 0)
        self.assert_log("INFO", "agent", f"Default configuration file written to: {config}", res)
        return self.read(config)

    def test_csv_only(self):
        text = self.regen("--plugins", "csv")
        self.assertEqual(text, CSV_DEFAULT_CONFIG)
        if tomllib is None:
            return
        doc = tomllib.loads(text)
        self.assertEqual(doc["plugins"]["csv"]["output_path"], "alumet-output.csv")
        self.assertEqual(doc, {"plugins": {"csv": {
            "output_path": "alumet-output.csv", "force_flush": True,
            "append_unit_to_metric_name": True, "use_unit_display_name": True,
            "csv_delimiter": ";", "csv_late_delimiter": ","}}})

    def test_two_plugins_in_plugin_set_order(self):
        # built-in plugins come before dynamic ones, whatever the --plugins order
        text = self.regen("--plugin-dir", PLUGIN_DIR, "--plugins", "test-source,csv")
        self.assertEqual(text, CSV_DEFAULT_CONFIG + "\n" + TEST_SOURCE_DEFAULT_CONFIG)
        if tomllib is not None:
            self.assertEqual(list(tomllib.loads(text)["plugins"]), ["csv", "test-source"])

    def test_overwrites_and_uses_config_path(self):
        self.write_config("garbage = [\n", name="my.toml")
        text = self.regen("--config", "my.toml", "--plugins", "csv", config="my.toml")
        self.assertEqual(text, CSV_DEFAULT_CONFIG)
        self.assertFalse(os.path.exists(self.path(CONFIG)))

    def test_regenerated_config_is_valid(self):
        # the test plugins and csv (other built-in plugins may need hardware)
        self.regen("--plugin-dir", PLUGIN_DIR, "--plugins", TEST_PLUGINS)
        res = self.agent("--plugin-dir", PLUGIN_DIR, "config", "check")
        self.assert_exit(res, 0)
        self.assertEqual(res.stdout, f"configuration '{CONFIG}' is valid\n")

    def test_no_plugin(self):
        self.write_config("[plugins]\n")
        text = self.regen("--plugins", "")
        self.assertEqual(text, "[plugins]\n")

    def test_no_substitution(self):
        self.write_config('[plugins.csv]\noutput_path = "${E2E_NO_SUCH_VARIABLE}"\n')
        text = self.regen("--plugins", "csv")
        self.assertEqual(text, CSV_DEFAULT_CONFIG)


if __name__ == "__main__":
    main()
