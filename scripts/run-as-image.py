#!/usr/bin/env python3
"""Run a command in the container image the Containerfile describes, without a container engine.

Lays out an empty root from the build context as the Containerfile's COPY lines say (with their
--chown), then runs its ENTRYPOINT with ARGS in that root (chroot), in its WORKDIR, as its USER,
with only its ENV: what a runtime does with the image, less the namespaces. CI uses it where no
daemonless builder can run (scripts/ci-release.sh). Understands the instructions the Containerfile
uses and refuses any other, so a new instruction cannot be silently skipped.

Usage (as root): run-as-image.py CONTEXT ROOT [--data-mode MODE:UID] -- ARGS...
  CONTEXT: from scripts/container-context.sh. ROOT: a new directory to lay the image out in (kept,
  so several runs share one /data). --data-mode 755:0 makes /data another user's, as a volume
  mounted from the host may be. Prints the command's stdout and stderr; exits with its status.
"""
import json
import os
import shutil
import sys


def instructions(path):
    lines, cont = [], ""
    for raw in open(path, encoding="utf-8"):
        line = raw.rstrip("\n")
        if not cont and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.endswith("\\"):
            cont += line[:-1] + " "
            continue
        lines.append((cont + line).strip())
        cont = ""
    for line in lines:
        word, _, rest = line.partition(" ")
        yield word.upper(), rest.strip()


def ids(spec):
    user, _, group = spec.partition(":")
    return int(user), int(group or user)


def main(argv):
    if "--" not in argv or len(argv) < 3:
        sys.exit(__doc__)
    split = argv.index("--")
    opts, args = argv[:split], argv[split + 1:]
    context, root = opts[0], opts[1]
    data_mode = opts[opts.index("--data-mode") + 1] if "--data-mode" in opts else None
    env, user, workdir, entrypoint, volumes = {}, (0, 0), "/", None, []
    fresh = not os.path.exists(root)
    for word, rest in instructions(os.path.join(context, "Containerfile")):
        if word == "FROM":
            if rest != "scratch":
                sys.exit(f"run-as-image: only FROM scratch is laid out here, not {rest}")
        elif word == "COPY":
            parts = rest.split()
            chown = None
            while parts[0].startswith("--"):
                flag = parts.pop(0)
                if flag.startswith("--chown="):
                    chown = ids(flag.split("=", 1)[1])
                else:
                    sys.exit(f"run-as-image: COPY {flag} is not understood")
            src, dest = parts
            target = os.path.join(root, dest.lstrip("/"))
            if fresh:
                shutil.copytree(os.path.join(context, src), target, symlinks=True, dirs_exist_ok=True)
                if chown:
                    for top, dirs, files in os.walk(target):
                        for name in [top] + [os.path.join(top, f) for f in dirs + files]:
                            os.lchown(name, *chown)
        elif word == "USER":
            user = ids(rest)
        elif word == "WORKDIR":
            workdir = rest
        elif word == "VOLUME":
            volumes = json.loads(rest)
        elif word == "ENV":
            for pair in rest.split():
                key, _, value = pair.partition("=")
                env[key] = value
        elif word == "ENTRYPOINT":
            entrypoint = json.loads(rest)
        elif word == "CMD":
            pass  # ARGS replace it, as `podman run IMAGE ARGS` does
        else:
            sys.exit(f"run-as-image: the instruction {word} is not understood")
    if entrypoint is None:
        sys.exit("run-as-image: the Containerfile has no ENTRYPOINT")
    for volume in volumes:
        os.makedirs(os.path.join(root, volume.lstrip("/")), exist_ok=True)
    if data_mode:
        mode, _, owner = data_mode.partition(":")
        for volume in volumes:
            path = os.path.join(root, volume.lstrip("/"))
            os.chown(path, int(owner), int(owner))
            os.chmod(path, int(mode, 8))
    pid = os.fork()
    if pid == 0:
        os.chroot(root)
        os.chdir(workdir)
        os.setgroups([])
        os.setgid(user[1])
        os.setuid(user[0])
        os.execve(entrypoint[0], entrypoint + args, env)
    _, status = os.waitpid(pid, 0)
    sys.exit(os.waitstatus_to_exitcode(status))


if __name__ == "__main__":
    main(sys.argv[1:])
