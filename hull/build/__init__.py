"""Builds: Dockerfile parsing, expansion, build context and ``.dockerignore``, the builder.

The front half (``parser``, ``instructions``, ``expand``, ``dockerignore``,
``context``) reads a Dockerfile and a context; the builder (``builder``,
``steps``, ``copystep``, ``runmounts``, ``layers``, ``runner``, ``cache``,
``graph``) runs it through the cache into layers and an image. See
docs/build.md.
"""

from __future__ import annotations

from hull.build.builder import BuildCancelled, Builder, BuildOptions, BuildResult
from hull.build.context import Context, ContextIndex, FileMeta, HashCache, diff
from hull.build.dockerignore import Entry, Matcher, read_patterns, walk
from hull.build.expand import (
    ArgScope,
    ExpandError,
    Lex,
    expand_word,
    expand_words,
    unused_build_args,
)
from hull.build.instructions import (
    AddInstr,
    ArgInstr,
    CmdInstr,
    CopyInstr,
    EntrypointInstr,
    EnvInstr,
    ExposeInstr,
    FromInstr,
    HealthcheckInstr,
    Instruction,
    LabelInstr,
    MaintainerInstr,
    OnbuildInstr,
    RunInstr,
    RunMount,
    ShellInstr,
    Stage,
    StopsignalInstr,
    UserInstr,
    VolumeInstr,
    WorkdirInstr,
    stages,
)
from hull.build.parser import DockerfileError, Heredoc, Node, parse, parse_ast

__all__ = [
    "AddInstr",
    "ArgInstr",
    "ArgScope",
    "BuildCancelled",
    "BuildOptions",
    "BuildResult",
    "Builder",
    "CmdInstr",
    "Context",
    "ContextIndex",
    "CopyInstr",
    "DockerfileError",
    "Entry",
    "EntrypointInstr",
    "EnvInstr",
    "ExpandError",
    "ExposeInstr",
    "FileMeta",
    "FromInstr",
    "HashCache",
    "HealthcheckInstr",
    "Heredoc",
    "Instruction",
    "LabelInstr",
    "Lex",
    "MaintainerInstr",
    "Matcher",
    "Node",
    "OnbuildInstr",
    "RunInstr",
    "RunMount",
    "ShellInstr",
    "Stage",
    "StopsignalInstr",
    "UserInstr",
    "VolumeInstr",
    "WorkdirInstr",
    "diff",
    "expand_word",
    "expand_words",
    "parse",
    "parse_ast",
    "read_patterns",
    "stages",
    "unused_build_args",
    "walk",
]  # fmt: skip
