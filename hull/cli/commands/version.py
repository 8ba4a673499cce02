"""``hull version``: client and server versions, as ``docker version``."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from hull import __version__
from hull.errors import HullError

from ..errors import report
from ..table import Format, tabwrite
from ..template import Template

# docker's own template for this output, run through our template engine
DEFAULT = """Client:{{if ne .Client.Platform.Name ""}} {{.Client.Platform.Name}}{{end}}
 Version:\t{{.Client.Version}}
 API version:\t{{.Client.ApiVersion}}{{if ne .Client.ApiVersion .Client.DefaultAPIVersion}} \
(downgraded from {{.Client.DefaultAPIVersion}}){{end}}
 Go version:\t{{.Client.GoVersion}}
 Git commit:\t{{.Client.GitCommit}}
 Built:\t{{.Client.BuildTime}}
 OS/Arch:\t{{.Client.Os}}/{{.Client.Arch}}
 Context:\t{{.Client.Context}}
{{- if .Server}}{{with .Server}}

Server:{{if ne .Platform.Name ""}} {{.Platform.Name}}{{end}}
{{- range $c := .Components}}
 {{$c.Name}}:
{{- if eq $c.Name "Engine"}}
  Version:\t{{$c.Version}}
  API version:\t{{index $c.Details "ApiVersion"}} (minimum version \
{{index $c.Details "MinAPIVersion"}})
  Go version:\t{{index $c.Details "GoVersion"}}
  Git commit:\t{{index $c.Details "GitCommit"}}
  Built:\t{{index $c.Details "BuildTime"}}
  OS/Arch:\t{{index $c.Details "Os"}}/{{index $c.Details "Arch"}}
  Experimental:\t{{index $c.Details "Experimental"}}
{{- else}}
  Version:\t{{$c.Version}}
{{- range $k, $v := $c.Details}}
  {{$k}}:\t{{$v}}
{{- end}}
{{- end}}
{{- end}}
{{- end}}{{end}}
""".replace("\\\n", "")

NEEDS_DAEMON = True


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser("version", help="Show the hull version information")
    p.add_argument("-f", "--format", help="format the output using the given Go template")
    return p


def client_info(api_version: str) -> dict[str, Any]:
    from hull.api import sysinfo
    from hull.client import CLIENT_API_VERSION

    return {
        "Platform": {"Name": "hull"},
        "Version": __version__,
        "ApiVersion": api_version,
        "DefaultAPIVersion": CLIENT_API_VERSION,
        "GitCommit": sysinfo.git_commit(),
        "GoVersion": sysinfo.python_version(),
        "Os": "linux",
        "Arch": sysinfo.go_arch(),
        "BuildTime": sysinfo.build_time(),
        "Context": "default",
    }


def run(args: argparse.Namespace, client: Any) -> int:
    from hull.client import CLIENT_API_VERSION

    fmt = Format(args.format) if args.format else None
    error: HullError | None = None
    server = None
    api_version = CLIENT_API_VERSION
    try:
        api_version = client.api_version
        server = client.get("/version")
    except HullError as exc:
        error = exc
    data = {"Client": client_info(api_version), "Server": server}
    if fmt is not None:
        sys.stdout.write(fmt.render([data]))
    else:
        text = Template(DEFAULT).render(data)
        sys.stdout.write(tabwrite(text.split("\n")[:-1], minwidth=20, padding=1))
    if error is not None:
        return report(error)
    return 0
