# SPDX-License-Identifier: MIT
"""`alumet-agent config check` reports every problem of every plugin, each
with file:line:col, and checks what init can check without measuring
(output directories, server URLs, /proc/meminfo entries); it never writes."""

import os

from e2e_common import AgentTestCase, main, needs_csv


@needs_csv
class TestConfigCheck(AgentTestCase):
    def check_bad(self, text, *plugins):
        self.write_config(text)
        before = sorted(os.listdir(self.dir))
        res = self.agent("--plugins", ",".join(plugins), "config", "check")
        self.assert_exit(res, 1)
        self.assertIn("configuration 'alumet-config.toml' is invalid (see the errors above)",
                      res.stderr)
        # nothing written, nothing created
        self.assertEqual(sorted(os.listdir(self.dir)), before)
        return res

    def errors(self, res):
        return [line[len("ERROR agent: "):] for line in res.stderr.splitlines()
                if line.startswith("ERROR agent: ")]

    def test_every_problem_of_one_plugin(self):
        res = self.check_bad('[plugins.csv]\n'
                             'output_path = 5\n'
                             'force_flush = "yes"\n'
                             'outptu = 1\n'
                             'csv_delimiter = ";;"\n'
                             'max_buffered_points = -1\n', "csv")
        self.assertEqual(self.errors(res), [
            "alumet-config.toml:2:15: plugins.csv.output_path: expected a string, got integer 5",
            "alumet-config.toml:3:15: plugins.csv.force_flush: expected a boolean, got string "
            "\"yes\"",
            "alumet-config.toml:5:17: plugins.csv.csv_delimiter: expected a single character, "
            "got string \";;\"",
            "alumet-config.toml:6:23: plugins.csv.max_buffered_points: expected a number of "
            "points (0 or more), got -1",
            "alumet-config.toml:4:1: plugins.csv.outptu: unknown key",
            "plugin csv v0.2.0: invalid configuration: 5 problems (see above)",
        ])

    def test_rejected_value_and_typo(self):
        res = self.check_bad('[plugins.csv]\noutput_path = "x.csv"\nmax_buffered_points = -1\n'
                             'csv_delimter = ";"\n', "csv")
        self.assertEqual(self.errors(res), [
            "alumet-config.toml:3:23: plugins.csv.max_buffered_points: expected a number of "
            "points (0 or more), got -1",
            "alumet-config.toml:4:1: plugins.csv.csv_delimter: unknown key, did you mean "
            "'csv_delimiter'?",
            "plugin csv v0.2.0: invalid configuration: 2 problems (see above)",
        ])

    def test_every_plugin(self):
        res = self.check_bad('[plugins.csv]\noutput_path = "no-such-dir/out.csv"\n'
                             '[plugins.jsonl]\noutput_path = "out.csv/x.jsonl"\n'
                             '[plugins.socket-control]\nsocket_path = "gone/ctl.sock"\n'
                             'socket_mode = "999"\n',
                             "csv", "jsonl", "socket-control")
        self.assertEqual(self.errors(res), [
            "alumet-config.toml:2:15: plugins.csv.output_path: directory 'no-such-dir' does not "
            "exist: create it (mkdir -p 'no-such-dir') or choose another path",
            "plugin csv v0.2.0: invalid configuration: 1 problem (see above)",
            "alumet-config.toml:4:15: plugins.jsonl.output_path: directory 'out.csv' does not "
            "exist: create it (mkdir -p 'out.csv') or choose another path",
            "plugin jsonl v0.1.0: invalid configuration: 1 problem (see above)",
            "alumet-config.toml:6:15: plugins.socket-control.socket_path: directory 'gone' does "
            "not exist: create it (mkdir -p 'gone') or choose another path",
            "alumet-config.toml:7:15: plugins.socket-control.socket_mode: expected permissions "
            "in octal such as \"0600\" or \"0660\", got '999'",
            "plugin socket-control v0.2.1: invalid configuration: 2 problems (see above)",
        ])

    def test_path_is_a_file_or_a_directory(self):
        self.write("afile", "x")
        os.mkdir(self.path("adir"))
        res = self.check_bad('[plugins.csv]\noutput_path = "afile/out.csv"\n'
                             '[plugins.jsonl]\noutput_path = "adir"\n', "csv", "jsonl")
        errors = self.errors(res)
        self.assertIn("alumet-config.toml:2:15: plugins.csv.output_path: 'afile' is not a "
                      "directory: choose another path", errors)
        self.assertIn("alumet-config.toml:4:15: plugins.jsonl.output_path: 'adir' is a "
                      "directory: expected the path of a file", errors)

    def test_socket_path_is_not_a_socket(self):
        self.write("ctl.sock", "not a socket")
        res = self.check_bad('[plugins.socket-control]\nsocket_path = "ctl.sock"\n',
                             "socket-control")
        self.assertEqual(self.errors(res), [
            "alumet-config.toml:2:15: plugins.socket-control.socket_path: 'ctl.sock' exists and "
            "is not a socket: the agent does not replace it; remove it or choose another path",
            "plugin socket-control v0.2.1: invalid configuration: 1 problem (see above)",
        ])

    def test_unwritable_directory(self):
        if os.geteuid() == 0:
            self.skipTest("root may write anywhere")
        os.mkdir(self.path("ro"), 0o555)
        res = self.check_bad('[plugins.csv]\noutput_path = "ro/out.csv"\n', "csv")
        self.assertIn("alumet-config.toml:2:15: plugins.csv.output_path: cannot create "
                      "'ro/out.csv' in directory 'ro': Permission denied; give the user running "
                      "alumet-agent write permission on the directory, or choose another path",
                      self.errors(res))

    def test_urls_and_ports(self):
        res = self.check_bad('[plugins.influxdb]\nhost = "localhost:8086"\norg = "o"\n'
                             'bucket = "b"\napi_version = 3\n'
                             '[plugins.opentelemetry]\ncollector_host = "http://:4317"\n'
                             'push_interval_seconds = -1\n'
                             '[plugins.prometheus-exporter]\nhost = "not an address"\n'
                             'port = 70000\n',
                             "influxdb", "opentelemetry", "prometheus-exporter")
        errors = self.errors(res)
        for e in [
            "alumet-config.toml:2:8: plugins.influxdb.host: expected a URL that starts with "
            "http:// or https://, such as \"http://localhost:8086\", got 'localhost:8086'",
            "alumet-config.toml:5:15: plugins.influxdb.api_version: expected 1 (InfluxDB 1.x) "
            "or 2 (InfluxDB 2.x and later), got 3",
            "plugin influxdb v0.1.0: invalid configuration: 2 problems (see above)",
            "alumet-config.toml:7:18: plugins.opentelemetry.collector_host: no host in the URL "
            "'http://:4317': write the server's name or address, such as "
            "\"http://localhost:4317\"",
            "alumet-config.toml:11:8: plugins.prometheus-exporter.port: expected a port number "
            "between 0 and 65535 (0: any free port), got 70000",
            "alumet-config.toml:10:8: plugins.prometheus-exporter.host: invalid host:port "
            "configuration: expected an IP address such as \"0.0.0.0\" or \"127.0.0.1\", or an "
            "IPv6 address in brackets such as \"[::]\", got 'not an address'",
        ]:
            self.assertIn(e, errors)

    def test_bad_url_port(self):
        res = self.check_bad('[plugins.opentelemetry]\n'
                             'collector_host = "https://collector:99999"\n', "opentelemetry")
        self.assertIn("alumet-config.toml:2:18: plugins.opentelemetry.collector_host: invalid "
                      "port '99999' in the URL 'https://collector:99999': expected a number "
                      "between 1 and 65535, such as \"http://localhost:4317\"", self.errors(res))

    def test_meminfo_entries(self):
        res = self.check_bad('[plugins.procfs.memory]\n'
                             'metrics = ["MemTotal", "MemTotl", "SwapFre", "Nope"]\n', "procfs")
        self.assertEqual(self.errors(res), [
            "alumet-config.toml:2:11: plugins.procfs.memory.metrics: 'MemTotl' is not an entry "
            "of /proc/meminfo, did you mean 'MemTotal'?",
            "alumet-config.toml:2:11: plugins.procfs.memory.metrics: 'SwapFre' is not an entry "
            "of /proc/meminfo, did you mean 'SwapFree'?",
            "alumet-config.toml:2:11: plugins.procfs.memory.metrics: 'Nope' is not an entry of "
            "/proc/meminfo (see `cat /proc/meminfo` for the names, such as \"MemTotal\")",
            "plugin procfs v0.3.0: invalid configuration: 3 problems (see above)",
        ])

    def test_valid_paths_pass(self):
        os.mkdir(self.path("out"))
        self.write_config('[plugins.csv]\noutput_path = "out/x.csv"\n'
                          '[plugins.jsonl]\noutput_path = "out/x.jsonl"\n')
        res = self.agent("--plugins", "csv,jsonl", "config", "check")
        self.assert_exit(res, 0)
        self.assertIn("configuration 'alumet-config.toml' is valid", res.stdout)
        self.assertEqual(os.listdir(self.path("out")), [])

    def test_bad_log_level(self):
        self.write_config('[plugins.csv]\n')
        res = self.agent("config", "check", env={"ALUMET_LOG": "info,csv=loud"})
        self.assert_exit(res, 1)
        self.assertIn("error: invalid ALUMET_LOG 'info,csv=loud': 'csv=loud': expected a level "
                      "(off, error, warn, info, debug, trace) or TARGET=LEVEL items separated "
                      "by commas, such as \"info,rapl=debug\"", res.stderr)


if __name__ == "__main__":
    main()
