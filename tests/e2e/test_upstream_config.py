# SPDX-License-Identifier: MIT
"""A config file written by upstream Alumet (a section for each of its
plugins) works unchanged: the sections of plugins this agent does not have
are warnings, errors only when such a plugin is enabled or requested; a
name close to a built plugin is a typo (an error with a suggestion)."""

import os
import re
import shutil

from e2e_common import CONFIG, SOURCE_DIR, AgentTestCase, main, needs_csv

UPSTREAM_CONFIG = os.path.join(SOURCE_DIR, "..", "fixtures", "upstream-config", CONFIG)
WARN_RE = re.compile(r"^WARN  agent: alumet-config\.toml:(\d+):10: plugin '([a-z0-9-]+)' is not "
                     r"built into this agent; section ignored$", re.M)


def upstream_sections():
    """{plugin name: line of its first table header} in the fixture."""
    names = {}
    with open(UPSTREAM_CONFIG, encoding="utf-8") as f:
        for i, line in enumerate(f, 1):
            m = re.match(r"^\[+plugins\.([a-z0-9-]+)[.\]]", line)
            if m and m.group(1) not in names:
                names[m.group(1)] = i
    return names


@needs_csv
class TestUpstreamConfig(AgentTestCase):
    def setUp(self):
        super().setUp()
        shutil.copy(UPSTREAM_CONFIG, self.path(CONFIG))
        listing = self.agent("plugins", "list").stdout
        self.built = set(re.findall(r"^- ([a-z0-9-]+) v", listing, re.M))

    def test_fixture_has_every_upstream_plugin(self):
        # upstream has 29 plugins; energy-attribution has no default section
        self.assertEqual(len(upstream_sections()), 28)

    def test_runs_with_plugins_flag(self):
        res = self.agent("--plugins", "csv", "exec", "true")
        self.assert_exit(res, 0)
        sections = upstream_sections()
        missing = {n: line for n, line in sections.items() if n not in self.built}
        warned = {m.group(2): int(m.group(1)) for m in WARN_RE.finditer(res.stderr)}
        self.assertEqual(warned, missing, res)
        self.assertNotIn("ERROR", res.stderr)
        self.assertTrue(os.path.exists(self.path("alumet-output.csv")))

    def test_config_check_with_plugins_flag(self):
        res = self.agent("--plugins", "csv", "config", "check")
        self.assert_exit(res, 0)
        self.assertEqual(res.stdout, f"configuration '{CONFIG}' is valid\n")
        missing = {n: line for n, line in upstream_sections().items() if n not in self.built}
        warned = {m.group(2): int(m.group(1)) for m in WARN_RE.finditer(res.stderr)}
        self.assertEqual(warned, missing, res)

    def test_config_check_whole_file(self):
        # every built plugin accepts upstream's generated values ("FILL ME",
        # "TODO", "1.2.3.4"...): they are refused at start, not by the check
        res = self.agent("config", "check")
        self.assert_exit(res, 0)
        self.assertEqual(res.stdout, f"configuration '{CONFIG}' is valid\n")
        self.assertNotIn("ERROR", res.stderr)
        for name in ("mongodb", "elasticsearch", "kwollect-input", "kwollect-output", "quarch"):
            if name in self.built:
                self.assertNotIn(f"'{name}'", res.stderr)

    def test_section_of_a_missing_plugin_disabled(self):
        self.write_config('[plugins.csv]\n\n[plugins.future-meter]\nenabled = false\n'
                          'meter_ip = "1.2.3.4"\n')
        res = self.agent("exec", "true")
        self.assert_exit(res, 0)
        self.assert_log("WARN", "agent", "alumet-config.toml:3:10: plugin 'future-meter' is not "
                        "built into this agent; section ignored", res)

    def test_section_of_a_missing_plugin_enabled(self):
        self.write_config('[plugins.csv]\n\n[plugins.future-meter]\nenabled = true\n')
        res = self.agent("exec", "true")
        self.assert_exit(res, 1)
        self.assert_log("ERROR", "agent", "alumet-config.toml:4:11: plugins.future-meter.enabled: "
                        "the plugin 'future-meter' is not built into this agent; remove the "
                        "section or set enabled = false (see 'alumet-agent plugins list')", res)
        self.assertFalse(os.path.exists(self.path("alumet-output.csv")))

    def test_missing_plugin_requested(self):
        res = self.agent("--plugins", "csv,future-meter", "exec", "true")
        self.assert_exit(res, 1)
        self.assert_log("ERROR", "agent",
                        "Plugin future-meter is not available in this binary of Alumet Agent.", res)
        self.assertFalse(os.path.exists(self.path("alumet-output.csv")))

    def test_requested_typo_suggests(self):
        if "rapl" not in self.built:
            self.skipTest("this agent has no rapl plugin")
        res = self.agent("--plugins", "csv,rapll", "exec", "true")
        self.assert_exit(res, 1)
        self.assert_log("ERROR", "agent", "Plugin rapll is not available in this binary of Alumet "
                        "Agent. Did you mean 'rapl'?", res)

    def test_typo_is_an_error(self):
        if "rapl" not in self.built:
            self.skipTest("this agent has no rapl plugin")
        self.write_config('[plugins.csv]\n\n[plugins.rapll]\nenabled = false\n')
        res = self.agent("exec", "true")
        self.assert_exit(res, 1)
        self.assert_log("ERROR", "agent", "alumet-config.toml:3:10: unknown plugin 'rapll' in "
                        "configuration, did you mean 'rapl'?", res)

    def test_relay_options(self):
        if "relay-client" in self.built:
            self.skipTest("this agent has the relay plugins")
        for opt, plugin in (("--relay-out", "relay-client"), ("--relay-in", "relay-server")):
            with self.subTest(opt=opt):
                res = self.agent(opt, "[::1]:50051", "exec", "true")
                self.assert_exit(res, 1)
                self.assert_log("ERROR", "agent", f"{opt}: the {plugin} plugin is not built into "
                                "this agent; send the measurements with an output plugin instead "
                                "(see 'alumet-agent plugins list')", res)


BOOK_DIR = os.path.join(SOURCE_DIR, "..", "fixtures", "upstream-book")


class TestUpstreamBook(AgentTestCase):
    """Every TOML snippet of upstream's user book for a plugin this agent has
    passes `config check`, the options upstream rejects included."""

    def test_book_snippets_pass_config_check(self):
        listing = self.agent("plugins", "list", plugin_dir=True).stdout
        built = set(re.findall(r"^- ([a-z0-9-]+) v", listing, re.M))
        snippets = sorted(f for f in os.listdir(BOOK_DIR) if f.endswith(".toml"))
        self.assertGreaterEqual(len(snippets), 4)
        for name in snippets:
            plugin = re.match(r"^(prometheus-exporter|opentelemetry|energy-attribution)",
                              name).group(1)
            with self.subTest(snippet=name):
                if plugin not in built:
                    self.skipTest(f"{plugin} is not built into this agent")
                shutil.copy(os.path.join(BOOK_DIR, name), self.path(CONFIG))
                res = self.agent("config", "check", plugin_dir=True)
                self.assert_exit(res, 0)
                self.assertEqual(res.stdout, f"configuration '{CONFIG}' is valid\n")
                self.assertNotIn("ERROR", res.stderr)
                self.assertNotIn("WARN", res.stderr)


if __name__ == "__main__":
    main()
