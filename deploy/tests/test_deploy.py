"""Checks deploy/ without a Docker engine or a cluster (README.md,
"Deploying").

What can be checked here is checked: every YAML file parses and holds the
expected objects, and compose's passes `docker-compose config`; the
Dockerfile builds exactly as deploy/run.sh does and installs packages only
through deploy/install-deps.sh; the runtime package
list is what the built binaries link; the Kubernetes objects fit together
(probes on the gRPC health service, the store on a claim, the config and
tokens where the config says); the Secret holds only token hashes; the
systemd unit passes `systemd-analyze verify` and is hardened; and, once
dipwired has --check-config, every shipped config passes it, and so does
every JSON config example in README.md.

Run by CTest as deploy_files_test, with DIPWIRE_DIPWIRED and DIPWIRE_CLI set
to the built binaries.
"""

import base64
import json
import os
import pathlib
import re
import shlex
import shutil
import subprocess

import pytest
import yaml

DEPLOY = pathlib.Path(__file__).resolve().parent.parent
ROOT = DEPLOY.parent
K8S = DEPLOY / "k8s"
SHELL_OPERATORS = {"&&", "||", ";", "|", "&"}


# --- Shell and Dockerfile parsing -----------------------------------------


def logical_lines(text):
    """Lines with backslash continuations joined and comment lines dropped."""
    lines, pending = [], ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if stripped.startswith("#") or (not pending and not stripped):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        lines.append(pending + stripped)
        pending = ""
    return lines


def shell_commands(line):
    """The simple commands of one shell line: token lists, without leading
    VAR=value assignments and without redirections."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    try:
        tokens = list(lexer)
    except ValueError:  # not shell (a here-document's text, say)
        return []
    commands, current, skip_next = [], [], False
    for token in tokens:
        if skip_next:
            skip_next = False
        elif token in SHELL_OPERATORS:
            commands.append(current)
            current = []
        elif set(token) <= set("<>&"):
            skip_next = True  # the redirection's target
        elif not current and re.fullmatch(r"[A-Za-z_]\w*=\S*", token):
            continue
        else:
            current.append(token)
    commands.append(current)
    return [c for c in commands if c]


def script_commands(path):
    """Every simple command of a shell script, with its literal variables
    (name="value") substituted."""
    lines = logical_lines(path.read_text())
    variables = {}
    for line in lines:
        match = re.fullmatch(r'([a-z_]\w*)="([^"$`]*)"', line)
        if match:
            variables[match.group(1)] = match.group(2)

    def expand(token):
        return re.sub(r"\$\{?(\w+)\}?",
                      lambda m: variables.get(m.group(1), m.group(0)), token)

    return [[expand(t) for t in command]
            for line in lines for command in shell_commands(line)]


def dockerfile_stages():
    """deploy/Dockerfile as a list of stages, each a dict with `base`, `name`
    and `instructions`: (INSTRUCTION, arguments) pairs."""
    stages = []
    for line in logical_lines((DEPLOY / "Dockerfile").read_text()):
        instruction, _, args = line.partition(" ")
        instruction, args = instruction.upper(), args.strip()
        if instruction == "FROM":
            words = args.split()
            named = len(words) == 3 and words[1].upper() == "AS"
            name = words[2] if named else None
            stages.append({"base": words[0], "name": name, "instructions": []})
        stages[-1]["instructions"].append((instruction, args))
    return stages


def run_commands(stage):
    """The simple commands of a stage's RUN instructions (RUN's own --flags
    dropped)."""
    commands = []
    for instruction, args in stage["instructions"]:
        if instruction == "RUN":
            args = re.sub(r"^(--\S+\s+)+", "", args)
            commands.extend(shell_commands(args))
    return commands


def install_deps_calls(commands):
    """The modes deploy/install-deps.sh is called with, in order."""
    return [c[1:] for c in commands
            if os.path.basename(c[0]) == "install-deps.sh"]


def cmake_commands(commands):
    return [c for c in commands if c[0] == "cmake"]


def runtime_packages():
    out = subprocess.run(
        [str(DEPLOY / "install-deps.sh"), "--list", "runtime"],
        check=True, capture_output=True, text=True).stdout
    return out.split()


# --- YAML ------------------------------------------------------------------


def load_yaml(path):
    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


def k8s_objects():
    """kind -> the one object of that kind in deploy/k8s/."""
    objects = {}
    for path in sorted(K8S.glob("*.yaml")):
        for doc in load_yaml(path):
            assert doc["kind"] not in objects, f"two {doc['kind']} objects"
            objects[doc["kind"]] = doc
    return objects


def secret_files(secret):
    """A Secret's files, name -> text, from data (base64) and stringData."""
    files = {k: base64.b64decode(v).decode()
             for k, v in (secret.get("data") or {}).items()}
    files.update(secret.get("stringData") or {})
    return files


def test_every_yaml_file_parses_and_holds_the_expected_objects():
    paths = sorted(DEPLOY.rglob("*.yaml"))
    assert paths, "no YAML under deploy/"
    for path in paths:
        assert load_yaml(path), f"{path} is empty"

    assert set(k8s_objects()) == {
        "Kustomization", "ConfigMap", "Secret", "Service", "StatefulSet"}
    # kubectl apply -k applies only what the kustomization lists.
    kustomization = k8s_objects()["Kustomization"]
    manifests = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == manifests

    compose = load_yaml(DEPLOY / "compose.yaml")[0]
    assert set(compose["services"]) == {"dipwired", "ingest"}


def test_kustomize_renders_the_four_objects():
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed: kustomize output not checked")
    out = subprocess.run([kubectl, "kustomize", str(K8S)], check=True,
                         capture_output=True, text=True, timeout=60).stdout
    kinds = sorted(doc["kind"] for doc in yaml.safe_load_all(out) if doc)
    assert kinds == ["ConfigMap", "Secret", "Service", "StatefulSet"]


# --- Dockerfile ------------------------------------------------------------


def test_build_stage_installs_and_builds_exactly_as_run_sh():
    build = dockerfile_stages()[0]
    commands = run_commands(build)
    run_sh = script_commands(DEPLOY / "run.sh")

    assert install_deps_calls(commands) == [["build"]]
    assert install_deps_calls(commands) == install_deps_calls(run_sh)
    configure_and_build = [c for c in cmake_commands(commands)
                           if "--install" not in c]
    assert len(cmake_commands(run_sh)) == 2, "run.sh: configure and build"
    assert configure_and_build == cmake_commands(run_sh)
    # ... and installs from that same build directory.
    build_dir = cmake_commands(run_sh)[1][2]
    assert ["cmake", "--install", build_dir] in cmake_commands(commands)


def test_packages_come_only_from_install_deps():
    for stage in dockerfile_stages():
        assert stage["base"] == "debian:bookworm"
        for command in run_commands(stage):
            assert command[0] not in {"apt-get", "apt", "dpkg"}, (
                f"{' '.join(command)}: install through deploy/install-deps.sh")


def test_runtime_stage_installs_the_runtime_list_and_runs_unprivileged():
    stages = dockerfile_stages()
    runtime = stages[-1]
    assert install_deps_calls(run_commands(runtime)) == [["runtime"]]
    instructions = dict(runtime["instructions"])  # the last of each kind

    assert any(i == "COPY" and a.startswith(f"--from={stages[0]['name']} ")
               for i, a in runtime["instructions"])
    assert "USER" in instructions, "the runtime stage runs as root"
    user = instructions["USER"].split(":")[0]
    assert user not in {"root", "0"}

    healthcheck = instructions.get("HEALTHCHECK", "")
    assert "CMD" in healthcheck, "no HEALTHCHECK CMD"
    command = json.loads(healthcheck[healthcheck.index("CMD") + 3:])
    assert command[:2] == ["dipwire", "health"]


def needed_libraries(binary):
    """DT_NEEDED name -> the path ldd resolves it to."""
    dynamic = subprocess.run(["objdump", "-p", binary], check=True,
                             capture_output=True, text=True).stdout
    needed = re.findall(r"^\s*NEEDED\s+(\S+)$", dynamic, re.M)
    resolved = dict(re.findall(r"^\s*(\S+) => (/\S+)", subprocess.run(
        ["ldd", binary], check=True, capture_output=True, text=True).stdout,
        re.M))
    missing = [n for n in needed if n not in resolved]
    assert not missing, f"ldd does not resolve {missing} for {binary}"
    return {n: resolved[n] for n in needed}


def owning_packages(paths):
    """path -> the Debian package that installed it (each path tried as is,
    resolved, and across the /lib -> /usr/lib merge), in one dpkg call."""
    candidates = {}
    for path in paths:
        for p in (path, os.path.realpath(path)):
            candidates[p] = path
            if p.startswith("/usr/lib/"):
                candidates[p[len("/usr"):]] = path
            elif p.startswith("/lib/"):
                candidates["/usr" + p] = path
    # Exit status 1 when some candidate is no package's: expected.
    out = subprocess.run(["dpkg", "-S", *candidates], capture_output=True,
                         text=True).stdout
    owners = {}
    for line in out.splitlines():
        package, _, candidate = line.partition(": ")
        owners[candidates[candidate]] = package.split(":")[0]
    unowned = sorted(set(paths) - set(owners))
    assert not unowned, f"no Debian package owns {unowned}"
    return owners


def dependency_closure(packages):
    """`packages` and everything they depend on, by the installed packages'
    Depends and Pre-Depends (any alternative counts)."""
    out = subprocess.run(
        ["dpkg-query", "-W", "-f=${Package}\t${Depends}, ${Pre-Depends}\n"],
        check=True, capture_output=True, text=True).stdout
    depends = {}
    for line in out.splitlines():
        name, _, fields = line.partition("\t")
        depends.setdefault(name, set()).update(
            re.split(r"[\s:(]", alternative.strip())[0]
            for group in fields.split(",") for alternative in group.split("|")
            if alternative.strip())
    closure, todo = set(), list(packages)
    while todo:
        package = todo.pop()
        if package not in closure:
            closure.add(package)
            todo.extend(depends.get(package, ()))
    return closure


def test_runtime_packages_are_those_of_the_linked_libraries():
    binaries = [os.environ.get(v) for v in ("DIPWIRE_DIPWIRED", "DIPWIRE_CLI")]
    if not all(binaries):
        pytest.skip("DIPWIRE_DIPWIRED or DIPWIRE_CLI is not set "
                    "(CTest sets them)")
    needed = {}
    for binary in binaries:
        needed.update(needed_libraries(binary))
    owners = owning_packages(needed.values())
    linked = {}
    for name, path in needed.items():
        linked.setdefault(owners[path], set()).add(name)

    listed = runtime_packages()
    # gcc links --as-needed on Debian, clang does not: what clang's binaries
    # name beyond gcc's comes with the listed packages' dependencies.
    installed = dependency_closure(listed)
    missing = {p: sorted(n) for p, n in linked.items() if p not in installed}
    assert not missing, (
        f"add to runtime_packages in deploy/install-deps.sh: {missing}")
    # The release binaries (the Docker image's) link jemalloc; a build
    # without it (sanitizers, -DDIPWIRE_JEMALLOC=OFF) does not, and CTest
    # says which this is.
    optional = (set() if os.environ.get("DIPWIRE_LINKS_JEMALLOC") == "ON"
                else {"libjemalloc2"})
    unused = [p for p in listed
              if p.startswith("lib") and p not in linked and p not in optional]
    assert not unused, f"runtime packages no binary links: {unused}"


# --- compose ---------------------------------------------------------------


def test_compose_keeps_the_store_on_a_volume_and_ingests_when_healthy():
    compose = load_yaml(DEPLOY / "compose.yaml")[0]
    server = compose["services"]["dipwired"]
    assert (DEPLOY / server["build"]["context"]).resolve() == ROOT
    assert (ROOT / server["build"]["dockerfile"]) == DEPLOY / "Dockerfile"

    data_dir = server["command"][server["command"].index("--data-dir") + 1]
    volume, _, mount = server["volumes"][0].partition(":")
    assert mount == data_dir and volume in compose["volumes"]

    ingest = compose["services"]["ingest"]
    assert ingest["image"] == server["image"]
    assert ingest["depends_on"]["dipwired"]["condition"] == "service_healthy"
    # It publishes the demo file `cmake --install` puts in the image.
    demo = ingest["command"][-1]
    assert demo.startswith("/usr/local/share/dipwire/demo/")
    assert (DEPLOY / "demo" / os.path.basename(demo)).is_file()


def test_compose_file_passes_docker_compose_config():
    compose = shutil.which("docker-compose")
    if compose is None:
        pytest.skip("docker-compose is not installed: schema not checked")
    result = subprocess.run(
        [compose, "-p", "dipwire", "-f", str(DEPLOY / "compose.yaml"),
         "config", "--quiet"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


# --- Kubernetes ------------------------------------------------------------


def test_statefulset_probes_the_grpc_health_service():
    container = k8s_objects()["StatefulSet"]["spec"]["template"]["spec"][
        "containers"][0]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        spec = container[probe]
        if "grpc" in spec:
            assert spec["grpc"]["port"] == ports["grpc"], probe
        else:
            assert spec["exec"]["command"][:2] == ["dipwire", "health"], probe


def test_statefulset_keeps_the_store_on_a_claim_and_requests_resources():
    objects = k8s_objects()
    statefulset = objects["StatefulSet"]
    pod = statefulset["spec"]["template"]["spec"]
    container = pod["containers"][0]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}

    config = json.loads(objects["ConfigMap"]["data"]["dipwired.json"])
    claims = [c["metadata"]["name"]
              for c in statefulset["spec"]["volumeClaimTemplates"]]
    assert [n for n in claims if mounts.get(n) == config["dataDir"]], (
        "no volumeClaimTemplate is mounted at the config's dataDir")
    requests = container["resources"]["requests"]
    assert "cpu" in requests and "memory" in requests

    # The config file is the ConfigMap's, and its tokensFile the Secret's.
    volumes = {v["name"]: v for v in pod["volumes"]}

    def source(path):
        for name, mount_path in mounts.items():
            if os.path.dirname(path) == mount_path:
                return volumes[name], os.path.basename(path)
        raise AssertionError(f"{path} is on no mounted volume")

    config_path = container["args"][container["args"].index("--config") + 1]
    volume, key = source(config_path)
    assert volume["configMap"]["name"] == (
        objects["ConfigMap"]["metadata"]["name"])
    assert key in objects["ConfigMap"]["data"]
    volume, key = source(config["auth"]["tokensFile"])
    assert volume["secret"]["secretName"] == (
        objects["Secret"]["metadata"]["name"])
    assert key in secret_files(objects["Secret"])

    assert pod["securityContext"]["runAsNonRoot"] is True


def assert_only_hashes(token_list_text, where):
    token_list = json.loads(token_list_text)
    assert set(token_list) == {"tokens"}, where
    assert token_list["tokens"], where
    for token in token_list["tokens"]:
        assert set(token) <= {"name", "sha256", "roles", "publishRate",
                              "publish_rate"}, f"{where}: {sorted(token)}"
        assert re.fullmatch(r"[0-9a-f]{64}", token["sha256"]), where


def test_secret_and_example_tokens_hold_only_hashes():
    for name, text in secret_files(k8s_objects()["Secret"]).items():
        assert_only_hashes(text, f"Secret {name}")
    assert_only_hashes((DEPLOY / "config" / "tokens.json").read_text(),
                       "deploy/config/tokens.json")


def test_shipped_configs_pass_check_config(tmp_path):
    dipwired = os.environ.get("DIPWIRE_DIPWIRED")
    if not dipwired:
        pytest.skip("DIPWIRE_DIPWIRED is not set (CTest sets it)")
    help_text = subprocess.run([dipwired, "--help"], capture_output=True,
                               text=True, timeout=30)
    if "--check-config" not in help_text.stdout + help_text.stderr:
        pytest.skip("this dipwired has no --check-config yet")

    objects = k8s_objects()
    configs = {
        "deploy/config/dipwired.json": (
            (DEPLOY / "config" / "dipwired.json").read_text(),
            (DEPLOY / "config" / "tokens.json").read_text()),
        "ConfigMap dipwired.json": (
            objects["ConfigMap"]["data"]["dipwired.json"],
            secret_files(objects["Secret"])["tokens.json"]),
    }
    for i, (where, (config_text, tokens_text)) in enumerate(configs.items()):
        # The same config with its paths moved under tmp_path.
        config = json.loads(config_text)
        tokens_file = tmp_path / f"tokens{i}.json"
        tokens_file.write_text(tokens_text)
        config["auth"]["tokensFile"] = str(tokens_file)
        config["dataDir"] = str(tmp_path / f"data{i}")
        os.mkdir(config["dataDir"])
        config_file = tmp_path / f"dipwired{i}.json"
        config_file.write_text(json.dumps(config))
        result = subprocess.run([dipwired, "--check-config", str(config_file)],
                                capture_output=True, text=True, timeout=30)
        assert result.returncode == 0, (
            f"{where}: {result.stdout}{result.stderr}")


def test_readme_config_examples_pass_check_config(tmp_path):
    # A reader copies these: each must load as it is written.
    dipwired = os.environ.get("DIPWIRE_DIPWIRED")
    if not dipwired:
        pytest.skip("DIPWIRE_DIPWIRED is not set (CTest sets it)")
    readme = (ROOT / "README.md").read_text()
    examples = re.findall(r"^```json\n(.*?)^```$", readme, re.M | re.S)
    assert examples, "README.md has no ```json config example"
    for i, example in enumerate(examples):
        config = json.loads(example)
        env = dict(os.environ)
        for sink in config.get("sinks", []):
            if "secretEnv" in sink:
                env[sink["secretEnv"]] = "whsec_" + base64.b64encode(
                    os.urandom(32)).decode()
        config_file = tmp_path / f"readme{i}.json"
        config_file.write_text(example)
        result = subprocess.run([dipwired, "--check-config", str(config_file)],
                                capture_output=True, text=True, timeout=30,
                                env=env)
        assert result.returncode == 0, (
            f"README.md's JSON example {i + 1}: {result.stdout}"
            f"{result.stderr}")


# --- systemd ---------------------------------------------------------------

UNIT = DEPLOY / "systemd" / "dipwired.service"


def unit_settings():
    """[Service] key -> list of values, in order (keys may repeat)."""
    settings, section = {}, None
    for line in logical_lines(UNIT.read_text()):
        if line.startswith("["):
            section = line.strip("[]")
        elif section == "Service":
            key, _, value = line.partition("=")
            settings.setdefault(key.strip(), []).append(value.strip())
    return settings


def test_systemd_unit_passes_systemd_analyze_verify(tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is missing: the unit is not verified")
    dipwired = os.environ.get("DIPWIRE_DIPWIRED")
    if not dipwired:
        pytest.skip("DIPWIRE_DIPWIRED is not set (CTest sets it)")
    # verify insists that ExecStart's binary exists: point it at this build's.
    text = UNIT.read_text()
    assert "/usr/local/bin/dipwired " in text
    unit = tmp_path / UNIT.name
    unit.write_text(text.replace("/usr/local/bin/dipwired ", dipwired + " "))
    result = subprocess.run([analyze, "verify", str(unit)],
                            capture_output=True, text=True, timeout=60)
    # An unknown key or a bad value is only a warning: any output fails.
    assert result.returncode == 0 and not result.stdout + result.stderr, (
        result.stdout + result.stderr)


def test_systemd_unit_is_hardened():
    settings = unit_settings()

    def one(key):
        assert key in settings, f"{UNIT.name}: no {key}="
        return settings[key][-1]

    for key in ("NoNewPrivileges", "ProtectHome", "PrivateTmp"):
        assert one(key) == "yes", key
    assert one("ProtectSystem") == "strict"
    assert one("CapabilityBoundingSet") == ""
    assert one("RestrictAddressFamilies")
    assert "@system-service" in settings["SystemCallFilter"]
    assert one("User") not in {"root", "0"} or one("DynamicUser") == "yes"

    # The store is the one writable place.
    exec_start = shlex.split(one("ExecStart"))
    data_dir = exec_start[exec_start.index("--data-dir") + 1]
    assert data_dir in one("ReadWritePaths").split()
    assert "/var/lib/" + one("StateDirectory") == data_dir

    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is missing: no exposure score")
    # Exposure (0.0-10.0, as `systemd-analyze security` prints it) at most 2.0:
    # "OK" is up to 4.9; what is left above 1.0 is network access, which a
    # network server needs.
    result = subprocess.run(
        [analyze, "security", "--offline=yes", "--threshold=20", str(UNIT)],
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr
