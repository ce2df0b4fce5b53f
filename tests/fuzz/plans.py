"""Hypothesis strategies that draw case plans, one per entry point (see ``build`` for what a plan holds).

A plan: ``group`` (the table row), ``entry`` (what the driver calls), ``kind`` (the input's class, for grouping
failures), ``files`` (what to make), ``args``, and for the checks: ``inputs`` (read by the call: must stay as
they were), ``outputs`` (may be written: the path itself, anything under it, or it with a suffix added),
``keep`` (bystanders: must stay as they were even inside an output), ``removable`` (may disappear),
``expect`` (oracles: "ok" must succeed; "x16" the value a 16-bit image must load as; "offered" a recovery
that must be offered; "loads" / "bundle" / "json_file" / "json_stdout": what a successful ``kgn`` wrote must
read back), ``timeout`` (seconds).

Not drawn: values that make a valid command run long (``--steps 10**30`` for ``sample`` or ``train``, a
100,000-frame export or reproduction), since a long run that was asked for is not a hang. Values that size
memory are drawn (``-n``, ``--grid-n``, ``--image-size``, ``--H``, step ranges, analysis steps): those must be
refused at once.
"""

from __future__ import annotations

from hypothesis import strategies as st

from . import build as B

LOADER_TIMEOUT = 20
CLI_TIMEOUT = 40

sf = st.sampled_from


def byte_ops(max_ops: int = 4):
    op = st.tuples(
        sf(["flip", "flip", "set", "trunc", "cut", "dup", "ins", "ff", "zero", "append", "splice", "splice"]),
        sf(["head", "head", "any", "tail"]),
        st.integers(0, 65535),
        st.integers(0, 4095),
    )
    return st.lists(op, min_size=1, max_size=max_ops).map(lambda ops: [list(o) for o in ops])


def one_file(path: str, c: dict) -> list[dict]:
    return [{"p": path, "t": "bytes", "c": c}]


# ---------------------------------------------------------------- model files

MODEL_SEEDS = ["model:1d-sigmoid"] * 4 + ["model:2d-corners"] * 2 + ["img.safetensors"] * 4
CLASSIFIER = "model:mnist-classifier"  # a safetensors file of another format (the feature network): refused
MODEL_SEEDS += ["model:mnist-transformer", "model:mnist-cnn", "model:mnist-unet", CLASSIFIER]
MODEL_PATHS = [
    "",
    "spec",
    "spec.D",
    "spec.L",
    "spec.H",
    "spec.bound",
    "spec.arch",
    "spec.shape",
    "spec.shape.0",
    "spec.bottleneck",
    "spec.patch",
    "spec.heads",
    "spec.extra",
    "value_range",
    "value_range.0",
    "value_range.1",
    "data_shape",
    "data_shape.0",
    "dataset",
    "name",
    "format",
    "version",
    "date",
    "recipe",
    "recipe.config",
    "recipe.config.lr",
    "recipe.config.batch",
    "recipe.config.seed",
    "recipe.config.steps",
    "recipe.steps_done",
    "recipe.best_step",
    "recipe.best_eval_loss",
    "recipe.final_batch_loss",
    "recipe.elapsed_s",
    "recipe.device",
    "recipe.dataset",
    "recipe.M",
    "seed",
    "steps",
    "final_loss",
    "parameters",
    "partial",
    "recovery",
]
MODEL_SPECIALS = [
    "fifo",
    "dir",
    "link-devzero",
    "link-urandom",
    "link-dangling",
    "link-loop",
    "link-good",
    "link-dir",
    "link-proc",
    "hardlink-good",
    "empty",
    "pt-suffix",
    "upper-suffix",
    "zip-named",
    "npy-named",
    "newline-name",
    "long-name",
]


def meta_edits(paths):
    return st.lists(st.tuples(sf(paths), sf(B.JSON_VALUE_NAMES + [B.DELETE])), min_size=1, max_size=3).map(
        lambda es: [list(e) for e in es]
    )


@st.composite
def model_content(draw, seed=None):
    """(kind, detail, content recipe) of a hostile (or valid) model file's bytes."""
    seed = seed or draw(sf(MODEL_SEEDS))
    how = draw(sf(["meta"] * 4 + ["header"] * 3 + ["length", "bytes", "bytes", "weights", "valid"]))
    if how == "meta":
        edits = draw(meta_edits(MODEL_PATHS))
        return "metadata", "; ".join(f"{p or '<whole>'} = {v}" for p, v in edits), {"st": {"seed": seed, "meta": edits}}
    if how == "header":
        op = draw(
            st.one_of(
                st.tuples(st.just("dtype"), st.integers(0, 99), sf(B.SAFETENSORS_DTYPES)),
                st.tuples(st.just("shape"), st.integers(0, 99), sf(B.TENSOR_SHAPES)),
                st.tuples(st.just("offsets"), st.integers(0, 99), sf(B.TENSOR_OFFSETS)),
                st.tuples(st.just("entry"), st.integers(0, 99), sf(B.JSON_VALUE_NAMES)),
                st.tuples(sf(["drop", "rename"]), st.integers(0, 99)),
                st.tuples(st.just("add")),
                st.tuples(sf(["metadata", "kgn", "whole"]), st.just(0), sf(B.JSON_VALUE_NAMES)),
            )
        )
        op = list(op)
        return f"header {op[0]}", " ".join(map(str, op)), {"st": {"seed": seed, "hdr": [op]}}
    if how == "length":
        n = draw(sf(B.HEADER_LENGTHS))
        return "header length", n, {"st": {"seed": seed, "len": n}}
    if how == "bytes":
        ops = draw(byte_ops())
        return "bytes", str(ops), {"seed": seed, "muts": ops}
    if how == "weights":
        w = [draw(st.integers(0, 99)), draw(sf(["nan", "inf", "-inf", "big"]))]
        return "weights", str(w), {"st": {"seed": seed, "weights": [w]}}
    if seed == CLASSIFIER:
        return "classifier file", seed, {"seed": seed}
    return "valid", seed, {"seed": seed}


@st.composite
def model_plan(draw):
    if draw(st.integers(0, 9)) == 0:
        special = draw(sf(MODEL_SPECIALS))
        seed = draw(sf(MODEL_SEEDS))
        files, path, ok = special_model_files(special, seed)
        ok = ok and seed != CLASSIFIER
        return {
            "group": "model files",
            "entry": "checkpoint",
            "kind": special,
            "detail": special,
            "files": files,
            "args": {"path": path},
            "inputs": [f["p"] for f in files],
            "expect": {"ok": ok},
            "timeout": LOADER_TIMEOUT,
        }
    seed = "model:mnist" if draw(st.integers(0, 40)) == 0 else None
    kind, detail, c = draw(model_content(seed))
    return {
        "group": "model files",
        "entry": "checkpoint",
        "kind": kind,
        "detail": detail,
        "files": one_file("model.safetensors", c),
        "args": {"path": "model.safetensors"},
        "inputs": ["model.safetensors"],
        "expect": {"ok": kind == "valid"},
        "timeout": LOADER_TIMEOUT,
    }


def special_model_files(special: str, seed: str, name: str = "model.safetensors"):
    """(files, path to load, must load) for a model file that is not a plain file, or is misnamed."""
    good = {"p": "good.safetensors", "t": "bytes", "c": {"seed": seed}}
    if special == "fifo":
        return [{"p": name, "t": "fifo"}], name, False
    if special == "dir":
        return [{"p": name, "t": "dir"}], name, False
    if special in ("link-devzero", "link-urandom", "link-proc"):
        to = {"link-devzero": "/dev/zero", "link-urandom": "/dev/urandom", "link-proc": "/proc/self/status"}[special]
        return [{"p": name, "t": "symlink", "to": to}], name, False
    if special == "link-dangling":
        return [{"p": name, "t": "symlink", "to": "missing.safetensors"}], name, False
    if special == "link-loop":
        return [{"p": name, "t": "symlink", "to": name}], name, False
    if special == "link-good":
        return [good, {"p": name, "t": "symlink", "to": "good.safetensors"}], name, True
    if special == "link-dir":
        return [{"p": "d", "t": "dir"}, {"p": name, "t": "symlink", "to": "d"}], name, False
    if special == "hardlink-good":
        return [good, {"p": name, "t": "hardlink", "to": "good.safetensors"}], name, True
    if special == "empty":
        return [{"p": name, "t": "bytes", "c": {"text": ""}}], name, False
    if special == "pt-suffix":
        return [{"p": "model.pt", "t": "bytes", "c": {"seed": seed}}], "model.pt", False
    if special == "upper-suffix":
        return [{"p": "model.SAFETENSORS", "t": "bytes", "c": {"seed": seed}}], "model.SAFETENSORS", False
    if special == "zip-named":
        return [{"p": name, "t": "bytes", "c": {"npz": {"members": [["x.npy", {}]]}}}], name, False
    if special == "npy-named":
        return [{"p": name, "t": "bytes", "c": {"npy": {}}}], name, False
    if special == "newline-name":
        return (
            [{"p": "a\nb.safetensors", "t": "bytes", "c": {"seed": seed, "muts": [["flip", "head", 100, 1]]}}],
            "a\nb.safetensors",
            False,
        )
    if special == "long-name":
        p = "m" * 240 + ".safetensors"
        return [{"p": p, "t": "bytes", "c": {"seed": seed}}], p, True
    raise ValueError(special)


# ---------------------------------------------------------------- arrays (.npy, .npz)

ARRAY_SPECIALS = [
    "fifo",
    "dir",
    "link-devzero",
    "link-urandom",
    "link-dangling",
    "link-loop",
    "link-proc",
    "upper-suffix",
    "newline-name",
]


@st.composite
def npy_recipe(draw, shapes=B.NPY_SHAPES, descrs=B.NPY_DESCRS):
    how = draw(sf(["header"] * 6 + ["raw-header", "pickle", "valid", "valid"]))
    if how == "raw-header":
        h = draw(sf(B.NPY_HEADERS))
        return "npy raw header", h[:60], {"header": h, "version": list(draw(sf([(1, 0), (2, 0)])))}
    if how == "pickle":
        return "npy pickle", "object array with a pickle that runs a command", {"pickle": True}
    if how == "valid":
        shape = draw(sf(["(16, 8, 8)", "(6, 2)", "(16, 64)", "(4, 3, 8, 8)", "(4, 8, 8, 3)"]))
        descr = draw(sf(["<f4", "|u1", "<f8", "<i8"]))
        values = "pixels" if descr in ("|u1", "<i8") else draw(sf(["unit", "signed"]))
        return "npy valid", f"{descr} {shape}", {"descr": descr, "shape": shape, "values": values, "ok": True}
    r = {
        "descr": draw(sf(descrs)),
        "shape": draw(sf(shapes)),
        "fortran": draw(st.booleans()),
        "version": list(draw(sf([(1, 0)] * 4 + [(2, 0), (3, 0), (0, 0), (9, 9), (1, 1)]))),
        "values": draw(sf(B.NPY_VALUES)),
        "body": draw(sf(B.NPY_BODIES[:1] * 4 + B.NPY_BODIES[1:])),
        "seed": draw(st.integers(0, 3)),
    }
    return "npy header", f"{r['descr']} {r['shape']} v{r['version']} {r['values']} {r['body']}", r


@st.composite
def array_plan(draw, npz: bool):
    name = "data.npz" if npz else "data.npy"
    entry = draw(sf(["load_array", "open_source"]))
    if draw(st.integers(0, 11)) == 0:
        special = draw(sf(ARRAY_SPECIALS))
        if special == "newline-name":  # a damaged file whose name holds a newline: the error is still one line
            path = "a\nb" + (".npz" if npz else ".npy")
            c = {"npz": {"members": [["x.npy", {"body": "short"}]]}} if npz else {"npy": {"body": "short"}}
            files, ok = [{"p": path, "t": "bytes", "c": c}], False
        elif special == "upper-suffix":
            path = name.upper()
            files = [
                {
                    "p": path,
                    "t": "bytes",
                    "c": {"npz": {"members": [["x.npy", {"values": "unit"}]]}} if npz else {"npy": {"values": "unit"}},
                }
            ]
            ok = True
        else:
            files, _, _ = special_model_files(special, "model:1d-sigmoid", name)
            path, ok = name, False
        return _array_case(npz, entry, special, special, files, path, ok)
    if not npz:
        if draw(st.integers(0, 5)) == 0:
            seed = draw(sf(["tiny.npy", "points.npy"]))
            ops = draw(byte_ops())
            return _array_case(
                False, entry, "bytes", str(ops), one_file(name, {"seed": seed, "muts": ops}), name, False
            )
        kind, detail, r = draw(npy_recipe())
        return _array_case(False, entry, kind, detail, one_file(name, {"npy": r}), name, bool(r.get("ok")))
    how = draw(sf(["members"] * 5 + ["labels"] * 3 + ["hacks"] * 3 + ["archive", "bytes", "many"]))
    xname = draw(sf(["x.npy"] * 4 + ["images.npy", "data.npy", "x_train.npy", "X.npy", "other.npy", "x"]))
    kind_x, detail_x, xr = (
        draw(npy_recipe())
        if how == "members"
        else ("npy valid", "", {"descr": "|u1", "shape": "(16, 8, 8)", "values": "pixels", "ok": True})
    )
    members = [[xname, xr]]
    ok = bool(xr.get("ok")) and xname != "x"
    detail = f"{xname}: {detail_x}"
    kind = f"npz member {kind_x[4:]}"
    if how == "labels":
        yname = draw(sf(["y.npy", "labels.npy", "y_train.npy", "Y.npy"]))
        yr = {
            "descr": draw(sf(["<i8", "|u1", "<f8", "<f4", "|b1", "<c8", "|O", "<U4", "<M8[D]"])),
            "shape": draw(sf(["(16,)", "(16,)", "(15,)", "(17,)", "(16, 2)", "()", "(0,)", "(1000000000000,)"])),
            "values": draw(sf(["pixels", "signed", "nan", "inf", "unit", "1e308", "zeros"])),
            "body": draw(sf(["exact", "exact", "exact", "short"])),
        }
        members.append([yname, yr])
        kind, detail = "npz labels", f"{yname}: {yr['descr']} {yr['shape']} {yr['values']} {yr['body']}"
        ok = False
    hacks, archive = {}, "none"
    if how == "hacks":
        hacks = {xname: draw(sf(B.ZIP_MEMBER_HACKS[1:]))}
        kind, detail, ok = "npz zip member", hacks[xname], False
    if how == "archive":
        archive = draw(sf(B.ZIP_ARCHIVE_HACKS[1:]))
        kind, detail, ok = "npz zip archive", archive, False
    c = {"npz": {"members": members, "hacks": hacks, "archive": archive}}
    if how == "many":
        c["npz"]["many"] = 10_001
        kind, detail, ok = "npz zip archive", "10,001 members", False
    if how == "bytes":
        c["muts"] = draw(byte_ops())
        kind, detail, ok = "bytes", str(c["muts"]), False
    return _array_case(True, entry, kind, detail, one_file(name, c), name, ok)


def _array_case(npz, entry, kind, detail, files, path, ok):
    return {
        "group": ".npz" if npz else ".npy",
        "entry": entry,
        "kind": kind,
        "detail": detail,
        "files": files,
        "args": {"path": path},
        "inputs": [f["p"] for f in files],
        "expect": {"ok": ok},
        "timeout": LOADER_TIMEOUT,
    }


# ---------------------------------------------------------------- IDX


@st.composite
def idx_recipe(draw, gz: str):
    how = draw(sf(["header"] * 5 + ["magic", "bytes", "valid", "valid"]))
    if how == "valid":
        dims = draw(sf([[16, 8, 8], [16, 8, 8, 1], [16, 8, 8, 3]]))
        ok = gz in ("none", "gzip", "multi-member")
        return (
            "valid" if ok else f"valid data, {gz}",
            str(dims),
            {"code": 0x08, "dims": dims, "gz": gz, "values": "pixels"},
            ok,
        )
    if how == "magic":
        magic = draw(st.lists(st.integers(0, 255), min_size=4, max_size=4))
        return "magic", str(magic), {"magic": magic, "dims": [16, 8, 8], "gz": gz}, False
    if how == "bytes":
        ops = draw(byte_ops())
        return "bytes", str(ops), {"code": 0x08, "dims": [16, 8, 8], "gz": gz, "values": "pixels", "muts": ops}, False
    r = {
        "code": draw(sf(B.IDX_CODES)),
        "dims": draw(sf(B.IDX_DIMS)),
        "body": draw(sf(["exact"] * 4 + ["short", "long", "empty"])),
        "values": draw(sf(["pixels", "unit", "signed", "nan", "inf", "1e308", "random-bytes"])),
        "gz": gz,
    }
    if draw(st.integers(0, 5)) == 0:
        r["ndim"] = draw(sf([0, 5, 255, 2]))
    return "header", f"code {r['code']:#x} dims {r['dims']} {r['body']} {r['values']} ndim {r.get('ndim')}", r, False


@st.composite
def idx_plan(draw, gzipped: bool):
    gz = draw(sf(["gzip"] * 4 + B.GZ_KINDS[2:])) if gzipped else "none"
    suffix = ".gz" if gzipped else ""
    entry = draw(sf(["load_idx", "load_idx", "open_source-file", "open_source-folder"]))
    if draw(st.integers(0, 11)) == 0:
        special = draw(sf(["fifo", "dir", "link-devzero", "link-urandom", "link-dangling", "newline-name"]))
        name = "train-images-idx3-ubyte" + suffix
        folder = entry == "open_source-folder"
        if special == "newline-name":  # a truncated file (in a folder) whose name holds a newline
            name = name if folder else "bad\n" + name
            files = [{"p": name, "t": "bytes", "c": {"idx": {"dims": [16, 8, 8], "body": "short", "gz": gz}}}]
        else:
            files, _, _ = special_model_files(special, "model:1d-sigmoid", name)
        if folder:
            base = "idx\ndir" if special == "newline-name" else "idxdir"
            files = [dict(f, p=f"{base}/" + f["p"]) for f in files]
            files.append({"p": f"{base}/train-labels-idx1-ubyte", "t": "bytes", "c": {"labels": ["ok", 16, "none"]}})
        return _idx_case(gzipped, entry, special, special, files, base if folder else name, None, False)
    kind, detail, r, ok = draw(idx_recipe(gz))
    muts = r.pop("muts", None)
    c = {"idx": r}
    if muts:
        c["muts"] = muts
    lab_kind = draw(sf(B.IDX_LABEL_KINDS[:1] * 3 + B.IDX_LABEL_KINDS[1:]))
    n = r.get("dims", [16])[0] if r.get("dims") else 16
    n = n if n < 100_000 else 16
    files = []
    if entry == "open_source-folder":
        img = "mnist/train-images-idx3-ubyte" + suffix
        lab = "idxdir/train-labels-idx1-ubyte" + suffix if lab_kind != "none" else None
        path = "mnist"
    else:
        img = "train-images-idx3-ubyte" + suffix
        lab = "train-labels-idx1-ubyte" + suffix if lab_kind != "none" and entry == "load_idx" else None
        path = img
    files.append({"p": img, "t": "bytes", "c": c})
    if lab:
        files.append({"p": lab, "t": "bytes", "c": {"labels": [lab_kind, n, "gzip" if gzipped else "none"]}})
        if lab_kind != "ok":
            kind, detail, ok = f"labels {lab_kind}", f"{detail}; labels {lab_kind}", False
    return _idx_case(gzipped, entry, kind, detail, files, path, lab if entry == "load_idx" else None, ok)


def _idx_case(gzipped, entry, kind, detail, files, path, labels, ok):
    return {
        "group": "IDX .gz" if gzipped else "IDX raw",
        "entry": entry,
        "kind": kind,
        "detail": detail,
        "files": files,
        "args": {"path": path, "labels": labels},
        "inputs": [path] + ([labels] if labels else []),
        "expect": {"ok": ok},
        "timeout": LOADER_TIMEOUT,
    }


# ---------------------------------------------------------------- image folders


# Files no allowed decoder reads: junk beside the 16-bit image leaves it the only one loaded.
UNDECODABLE = [
    "eps-as-png",
    "ps-as-jpg",
    "pdf-as-png",
    "svg-as-png",
    "text",
    "empty",
    "random",
    "truncated-png",
    "psd-as-png",
]


@st.composite
def image_plan(draw):
    entry = draw(sf(["load_image_folder", "load_image_folder", "open_source"]))
    if draw(st.integers(0, 9)) == 0:  # the 16-bit oracle: one uniform 16-bit grey image must load scaled
        v = draw(sf([0, 1, 255, 256, 4096, 32768, 40000, 65535]))
        entries = [["only.png", "png16", 0, v]]
        if draw(st.booleans()):
            entries.append(["junk.png", draw(sf(UNDECODABLE)), 1, 0])
        return _image_case(entry, "16-bit grey", f"value {v}", entries, ok=True, x16=v)
    n_good = draw(sf([0, 1, 1, 2, 3]))
    bad = draw(st.lists(sf(B.BAD_IMAGES + B.SPECIAL_IMAGES), min_size=1, max_size=4))
    classes = draw(st.booleans())
    entries = []
    goods = draw(st.lists(sf(B.GOOD_IMAGES), min_size=n_good, max_size=n_good))
    for i, kind in enumerate(goods):
        entries.append([f"{'ab'[i % 2] + '/' if classes else ''}{B.image_name(kind, i)}", kind, i, 30000])
    for i, kind in enumerate(bad):
        entries.append([f"{'ab'[i % 2] + '/' if classes else ''}{B.image_name(kind, 10 + i)}", kind, 10 + i, 1234])
    ok = bool(goods) or "link-good" in bad or "newline-name" in bad
    return _image_case(entry, "mixed" if goods else "hostile only", ", ".join(bad), entries, ok=ok)


def _image_case(entry, kind, detail, entries, ok, x16=None):
    return {
        "group": "image folders",
        "entry": entry,
        "kind": kind if kind != "mixed" else "mixed: " + detail.split(", ")[0],
        "detail": detail,
        "files": [{"p": "imgs", "t": "images", "imgs": entries}],
        "args": {"path": "imgs"},
        "inputs": ["imgs"],
        "expect": {"ok": ok, "x16": x16},
        "timeout": LOADER_TIMEOUT,
    }


# ---------------------------------------------------------------- run bundles


@st.composite
def bundle_recipe(draw, zipped: bool, reproduce: bool = False):
    """A bundle's mutations. For a reproduction, no step list that is valid but long to compute (a
    100,000-frame animation, a step 10,000,000 steps away): a long run asked for is not a hang."""
    seed = draw(sf(["bundle", "bundle_start"]))
    r = {"seed": seed}
    how = draw(
        sf(
            ["run"] * 4
            + ["steps", "text", "model", "model", "start", "kinds", "drop", "valid"]
            + ["zip"] * (4 if zipped else 0)
        )
    )
    detail = ""
    if how == "run":
        r["run"] = {"edits": draw(meta_edits(B.BUNDLE_PATHS))}
        detail = "; ".join(f"{p or '<whole>'} = {v}" for p, v in r["run"]["edits"])
    elif how == "steps":
        long_work = ("[0, 10000000]", "100k steps")
        r["run"] = {"steps": draw(sf([v for v in B.BUNDLE_STEPS if not (reproduce and v in long_work)]))}
        detail = r["run"]["steps"]
    elif how == "text":
        r["run"] = {"text": draw(sf(B.BUNDLE_TEXT))}
        detail = r["run"]["text"]
    elif how == "model":
        kind, detail, c = draw(model_content("img.safetensors"))
        c.pop("seed", None)
        if "st" in c:
            c["st"].pop("seed", None)
        r["model"] = c
        how = f"model {kind}"
    elif how == "start":
        kind, detail, sr = draw(
            npy_recipe(
                shapes=[
                    "(64,)",
                    "(2, 64)",
                    "(3, 64)",
                    "(64, 2)",
                    "(63,)",
                    "(1, 8, 8)",
                    "(0, 64)",
                    "(1000000000000,)",
                    "()",
                ],
                descrs=[
                    "<f4",
                    "<f8",
                    "|u1",
                    "|b1",
                    "<c8",
                    "|O",
                    "<M8[D]",
                    "<U4",
                    "[('a', '<f4'), ('b', '<i4')]",
                    "<f2",
                ],
            )
        )
        r["start"] = sr
        r["run"] = {"edits": [["has_start", "true"]]} if seed == "bundle" else {}
        how = f"start {kind[4:]}"
    elif how == "kinds":
        name = draw(sf(["run.json", "model.safetensors", "start.npy"]))
        special = draw(
            sf(
                [
                    ["fifo"],
                    ["dir"],
                    ["symlink", "/etc/passwd"],
                    ["symlink", "../outside.json"],
                    ["symlink", "../m.safetensors"],
                    ["symlink", "/dev/zero"],
                    ["symlink", "model.safetensors"],
                ]
            )
        )
        r["kinds"] = {name: special}
        detail = f"{name} → {' '.join(special)}"
        how = f"{name} not a plain file"
    elif how == "drop":
        r["drop"] = draw(
            st.lists(
                sf(["run.json", "model.safetensors", "start.npy", "metrics.csv", "animation.gif"]),
                min_size=1,
                max_size=2,
                unique=True,
            )
        )
        detail = ", ".join(r["drop"])
    elif how == "zip":
        if draw(st.booleans()):
            name = draw(sf(["run.json", "model.safetensors", "start.npy"]))
            r["zip_hacks"] = {name: draw(sf(B.ZIP_MEMBER_HACKS[1:]))}
            detail = f"{name}: {r['zip_hacks'][name]}"
            how = "zip member"
        else:
            r["zip_archive"] = draw(sf(B.ZIP_ARCHIVE_HACKS[1:]))
            detail = r["zip_archive"]
            how = "zip archive"
    return how, detail, r


@st.composite
def bundle_plan(draw, zipped: bool):
    reproduce = draw(sf([True, False, False]))
    how, detail, r = draw(bundle_recipe(zipped, reproduce))
    path = "b.zip" if zipped else "b"
    files = [
        {"p": path, "t": "bundle", "b": r},
        {"p": "m.safetensors", "t": "bytes", "c": {"seed": "img.safetensors"}},
        {"p": "outside.json", "t": "bytes", "c": {"text": '{"format": "kgn-bundle/1"}'}},
    ]
    if reproduce:
        out = draw(
            sf(
                [
                    "out",
                    "out",
                    "out.gif",
                    ".",
                    path,
                    "b/anim" if not zipped else "b.zip/anim",
                    "missing/out",
                    "m.safetensors",
                    "frames",
                ]
            )
        )
        if out == "frames":
            files.append({"p": "frames/keep.txt", "t": "bytes", "c": {"text": "mine"}})
        entry, outputs = "reproduce", [out]
    else:
        entry, outputs, out = "read_bundle", [], None
    return {
        "group": "bundle zip" if zipped else "bundle folder",
        "entry": entry,
        "kind": how,
        "detail": detail + (f"; -o {out}" if out else ""),
        "files": files,
        "args": {"path": path, "out": out},
        "inputs": [path, "m.safetensors", "outside.json"],
        "outputs": outputs,
        "keep": ["frames/keep.txt"],
        "expect": {"ok": how == "valid" and out in (None, "out", "out.gif")},
        "timeout": LOADER_TIMEOUT,
    }


# ---------------------------------------------------------------- the recovery folder

RECOVERY_PATHS = [
    "recovery",
    "recovery.step",
    "recovery.steps",
    "recovery.source",
    "recovery.app_pid",
    "recovery.app_pid",
    "recovery.app_start",
    "recovery.saved",
    "spec",
    "spec.L",
    "dataset",
    "name",
    "recipe",
    "format",
]
RECOVERY_JUNK = [
    "metadata",
    "metadata",
    "metadata",
    "bytes",
    "header length",
    "fifo",
    "dir",
    "link-devzero",
    "link-good",
    "link-dangling",
    "newline-name",
    "empty",
    "part-dead",
    "part-live",
    "part-noname",
    "part-fifo",
    "part-dir",
    "live-run",
    "other-name",
    "nested",
]


@st.composite
def recovery_plan(draw):
    good = "training-1-1.safetensors"
    with_good = draw(sf([True, True, True, False]))
    files = [{"p": f"rec/{good}", "t": "bytes", "c": {"seed": "recovery.safetensors"}}] if with_good else []
    if draw(st.integers(0, 4)) < 3:  # most cases: one kind of junk (so a failure names its kind)
        junk = [draw(sf(RECOVERY_JUNK))] * draw(st.integers(1, 3))
    else:
        junk = draw(st.lists(sf(RECOVERY_JUNK), min_size=2, max_size=5))
    removable, keep, details = [], [], []
    for i, kind in enumerate(junk):
        name = f"rec/training-{100 + i}-{i}.safetensors"
        if kind == "metadata":
            edits = draw(meta_edits(RECOVERY_PATHS))
            files.append({"p": name, "t": "bytes", "c": {"st": {"seed": "recovery.safetensors", "meta": edits}}})
            details.append("; ".join(f"{p} = {v}" for p, v in edits))
            continue
        if kind == "bytes":
            files.append({"p": name, "t": "bytes", "c": {"seed": "recovery.safetensors", "muts": draw(byte_ops())}})
        elif kind == "header length":
            files.append(
                {
                    "p": name,
                    "t": "bytes",
                    "c": {"st": {"seed": "recovery.safetensors", "len": draw(sf(B.HEADER_LENGTHS))}},
                }
            )
        elif kind in ("fifo", "dir"):
            files.append({"p": name, "t": kind})
        elif kind == "link-devzero":
            files.append({"p": name, "t": "symlink", "to": "/dev/zero"})
        elif kind == "link-good":
            files.append({"p": f"rec/target-{i}.bin", "t": "bytes", "c": {"seed": "recovery.safetensors"}})
            files.append({"p": name, "t": "symlink", "to": f"target-{i}.bin"})
        elif kind == "link-dangling":
            files.append({"p": name, "t": "symlink", "to": "gone.safetensors"})
        elif kind == "newline-name":
            files.append(
                {
                    "p": f"rec/training-\n{i}.safetensors",
                    "t": "bytes",
                    "c": {"seed": "recovery.safetensors", "muts": [["trunc", "any", 30000]]},
                }
            )
        elif kind == "empty":
            files.append({"p": name, "t": "bytes", "c": {"text": ""}})
        elif kind == "part-dead":
            p = f"rec/.training-{B.DEAD_PID}-{i}.safetensors.abc{i}.part"
            files.append({"p": p, "t": "bytes", "c": {"text": "half"}})
            removable.append(p)
        elif kind == "part-live":
            p = f"rec/.training-{B.LIVE_PID}-{i}.safetensors.abc{i}.part"
            files.append({"p": p, "t": "bytes", "c": {"text": "being written"}})
            keep.append(p)
        elif kind == "part-noname":
            p = f"rec/.training-x{i}.part"
            files.append({"p": p, "t": "bytes", "c": {"text": "?"}})
            keep.append(p)
        elif kind in ("part-fifo", "part-dir"):
            p = f"rec/.training-{B.DEAD_PID}-{i}.part"
            files.append({"p": p, "t": kind[5:]})
            keep.append(p)
        elif kind == "live-run":
            files.append(
                {
                    "p": name,
                    "t": "bytes",
                    "c": {"st": {"seed": "recovery.safetensors", "meta": [["recovery.app_pid", "1"]]}},
                }
            )
        elif kind == "other-name":
            files.append({"p": f"rec/notes-{i}.txt", "t": "bytes", "c": {"text": "hello"}})
        elif kind == "nested":
            files.append(
                {"p": f"rec/sub{i}/training-1-1.safetensors", "t": "bytes", "c": {"seed": "recovery.safetensors"}}
            )
        details.append(kind)
    return {
        "group": "recovery folder",
        "entry": "recovery",
        "kind": junk[0] if len(set(junk)) == 1 else "mixed",
        "detail": ", ".join(details) + ("" if with_good else "; no good file"),
        "files": files,
        "args": {"path": "rec"},
        "inputs": ["rec"],
        "removable": removable,
        "keep": keep,
        "expect": {"offered": f"rec/{good}" if with_good else None},
        "timeout": LOADER_TIMEOUT,
    }


# ---------------------------------------------------------------- kgn options

BIG = str(10**30)
INT_SIZE_HOSTILE = [
    "0",
    "-1",
    BIG,
    "1e3",
    "1.5",
    "nan",
    "inf",
    "",
    " ",
    "0x10",
    "\uff13",
    "\u0663",
    "1_000",
    "-0",
    "+5",
    "9" * 50,
    str(2**63),
    "a\nb",
    "\u00fcn\u00ef",
    "10000000",
]
INT_WORK_HOSTILE = ["0", "-1", "1e3", "1.5", "nan", "inf", "", " ", "0x10", "a\nb", "\u00fcn\u00ef", "-0", "\uff13"]
FLOAT_HOSTILE = [
    "nan",
    "inf",
    "-inf",
    "-1",
    "0",
    "1e308",
    "1e-320",
    "",
    "x",
    "1e309",
    "-0",
    "1,5",
    "NaN",
    "Infinity",
    "\uff11",
    str(10**400),
]
STEPS_VALID = ["0:3:1", "0,2", "0:4:2", "1:3", "0", "3", "0:2"]
STEPS_HOSTILE = [
    "0:1000000000000000:1",
    "0:" + "9" * 40 + ":1",
    "5:0",
    "0:5:0",
    "0:5:-1",
    "-1:5",
    "",
    "x",
    ",",
    "0,,2",
    "0:5:1:1",
    "1e3",
    "0:3:1.5",
    ":",
    "::",
    "0," * 20000,
    "-5",
    " 0 : 3 ",
    "\u0663",
    "0:100001:1",
    "0:3:1\n",
]
NAMES = ["n", "\u00fcn\u00ef", "a\nb", "x" * 300, "", "\x1b[31mred", "\u202e"]
STARTS = [
    "uniform",
    "normal",
    "data:data.npz#0",
    "data:data.npz#3",
    "data:data.npz#99999",
    "data:data.npz#-1",
    "data:points:1d-sigmoid#1",
    "data:points:2d-corners#0",
    "data:imgs#0",
    "data:idx#0",
    "data:bad.npz#0",
    "data:",
    "data:#",
    "data:#x",
    "start.npy",
    "start.npy",
    "bad.npy",
    "fifo.npy",
    "zero.npy",
    "dir.safetensors",
    "missing.npy",
    "painted",
    "array",
    "",
    "data:fifo.npy#0",
    "data:zero.npy#0",
    "data:mnist:test#0",
    "a\nb.npy",
    "data:a\nb.npz#0",
]
DATA = [
    "points:1d-sigmoid",
    "points:2d-corners",
    "points:0.2,0.8",
    "points:0.1/0.1,0.9/0.9",
    "data.npz",
    "pts.npy",
    "imgs",
    "idx",
]
DATA_HOSTILE = [
    "a\nb.npz",
    "points:",
    "points:nan",
    "points:2,3",
    "points:0.2/0.2,0.8",
    "points:1d-bogus",
    "bad.npy",
    "bad.npz",
    "bad.safetensors",
    "fifo.npy",
    "zero.npy",
    "dir.safetensors",
    "missing",
    "",
    "mnist:bogus",
    "m.safetensors",
    "b.zip",
    "badimgs",
    "badidx",
    "mnist:test",
]
OUT_FILE = [
    "o1.safetensors",
    "out/o2.safetensors",
    "missing/o.safetensors",
    "m.safetensors",
    "link.safetensors",
    "hard.safetensors",
    "out",
    "o.txt",
    "",
    "a\nb.safetensors",
    "data.npz",
    "fifo.npy",
    "dir.safetensors",
    "zero.npy",
]
OUT_FOLDER = [
    "o1",
    "o1",
    "out",
    "occupied",
    "prev",
    "frames",
    ".",
    "",
    "missing/o",
    "m.safetensors",
    "b",
    "imgs",
    "a\nb",
    "fifo.npy",
    "zero.npy",
    "x" * 300,
    "start.npy",
    "data",
]
JSON_OUT = [
    "a.json",
    "out/a.json",
    "missing/a.json",
    "m.safetensors",
    "data.npz",
    "out",
    "",
    "fifo.npy",
    "a\nb.json",
    "occupied/keep.txt",
    "zero.npy",
]
# Per model seed: the data it was trained on (or data of its size) and a data start from them.
MODEL_DATA = {
    "model:1d-sigmoid": ["points:1d-sigmoid"],
    "model:2d-corners": ["points:2d-corners"],
    "img.safetensors": ["data.npz", "imgs", "idx"],
    "model:mnist-transformer": ["mnist:test"],
}
MODEL_START = {
    "model:1d-sigmoid": "data:points:1d-sigmoid#1",
    "model:2d-corners": "data:points:2d-corners#2",
    "img.safetensors": "data:data.npz#3",
    "model:mnist-transformer": "data:mnist:test#0",
}
DEVICES = ["cpu", "cpu", "auto", "cuda", "cuda:7", "mps", "meta", "", "cpu:0", "xla", "cuda:x"]
JUNK = [["--bogus"], ["-x", "1"], ["--"], ["-h"], ["--steps"], ["-o"], ["extra-positional"]]


# The hostile values of each command's options, as cli_plan's add() declares them: "each hostile value once"
# draws one command line per (option, value) on top of the random mixes.
# The sampling lab's inputs (issue 32 item 6): schedules, dampings, whole samplers, later sampler changes,
# edits, conditions, branches; each with values that must run and values that must be one line.
SCHEDULE_VALID = ["cosine:0.3:0.01", "linear:0.1:0:3", "exp:0.2:0.01"]
SCHEDULE_HOSTILE = ["cosine:1e308:0", "linear:0.1", "exp:-1:0.1", "x:0:0", "cosine:0.3:0.01:0", "cosine:0.3:0.01:1e20",
                    "", ":::", "cosine:nan:0", "linear:0:11"]  # fmt: skip
DAMPING_HOSTILE = ["0", "-1", "1.5", "nan", "inf", "", "1e-400"]
SAMPLER_VALID = ["diverse", "noise=uniform,eps=0.05", "paper,damping=0.5"]
SAMPLER_HOSTILE = ["eps=1e308", "noise=x", "damping=0", "schedule=cosine:1:0:0", "a=b", "=", "diverse,diverse",
                   "eps=", "," * 5000, "noise=normal,noise=uniform"]  # fmt: skip
SAMPLER_FROM_VALID = ["2:diverse", "1:noise=none"]
SAMPLER_FROM_HOSTILE = ["-1:paper", "99999999999999:paper", "x", "2:", ":paper", "2:eps=inf", "1:" + "a" * 10000]
EDITS_VALID = ['[{"t": 1, "kind": "kick", "rows": [0], "sigma": 0.1, "seed": 1}]', "[]"]
EDITS_HOSTILE = ["[", "{}", '[{"t": -1, "kind": "kick", "rows": [0]}]', "[" * 10000, '"x"', "null",
                 '[{"t": 1, "kind": "kick", "rows": [99999999]}]', '[{"t": 1, "kind": "brush", "rows": [0], "pixels": [-5]}]',
                 '[{"t": 1, "kind": "nope", "rows": [0]}]', '[{"t": 1e999, "kind": "kick"}]',
                 '[{"t": 1, "kind": "kick", "rows": [0], "seed": 18446744073709551616}]']  # fmt: skip
BRANCH_HOSTILE = ["0:0", "-1:2", "2:100000000", "x", "99999:2", "1:", "1:1e3"]
CONDITION_HOSTILE = ["nowhere.png", "data:mnist:test#99999999", "fifo.npy", "", "data:", "zero.npy"]
KNOWN_HOSTILE = ["diagonal", "", "nowhere.png", "fifo.npy", "top,bottom"]


def lab_options(add, cmd: str) -> None:
    """The lab's options of ``kgn sample``, ``export`` and ``analyze`` (the same ones for each)."""
    add("--eps-schedule", SCHEDULE_VALID, SCHEDULE_HOSTILE, 0.15, 0.5)
    add("--damping", ["0.5", "1"], DAMPING_HOSTILE, 0.15, 0.5)
    add("--sampler", SAMPLER_VALID, SAMPLER_HOSTILE, 0.1, 0.5)
    add("--preset", ["paper", "diverse"], ["x", "", "PAPER"], 0.05, 0.5)
    add("--condition", ["data:mnist:test#3"], CONDITION_HOSTILE, 0.08, 0.5)
    add("--known", ["top", "left"], KNOWN_HOSTILE, 0.08, 0.5)
    if cmd != "analyze":
        add("--sampler-from", SAMPLER_FROM_VALID, SAMPLER_FROM_HOSTILE, 0.1, 0.5)
        add("--edits", EDITS_VALID, EDITS_HOSTILE, 0.1, 0.5)
    if cmd == "sample":
        add("--branch", ["1:2", "2:3"], BRANCH_HOSTILE, 0.1, 0.5)


HOSTILE_OPTIONS: dict[str, dict[str, list[str]]] = {}
MODEL_HOSTILE = [
    "bad.safetensors",
    "link.safetensors",
    "hard.safetensors",
    "missing.safetensors",
    "dir.safetensors",
    "fifo.npy",
    "imgs",
    "",
    "data.npz",
    "b.zip",
    "zero.npy",
]


def forced_pairs(cmd: str) -> list[tuple[str, str]]:
    """Every (option, hostile value) of ``cmd`` (after cli_plan has been drawn for it), the model's too."""
    pairs = [(name, v) for name, bad in sorted(HOSTILE_OPTIONS.get(cmd, {}).items()) for v in bad]
    if cmd in ("sample", "export", "analyze", "info"):
        pairs += [("MODEL", v) for v in MODEL_HOSTILE]
    return list(dict.fromkeys(pairs))


# Command lines whose output is one of their inputs (the same file, a link to it, a folder holding it).
CLOBBER = {
    "sample": [
        [("-o", "m.safetensors")],
        [("-o", "link.safetensors")],
        [("-o", ".")],
        [("--start", "start.npy"), ("-o", "start.npy")],
        [("--start", "data:data.npz#3"), ("-o", "data.npz")],
        [("--bundle", "b"), ("-o", "b")],
        [("--bundle", "b.zip"), ("-o", "b.zip")],
        [("--bundle", "b"), ("-o", ".")],
    ],
    "export": [
        [("--format", "npz"), ("--start", "data:data.npz#3"), ("-o", "data")],
        [("--format", "npz"), ("--start", "data:data.npz#3"), ("-o", "data.npz")],
        [("--bundle", None), ("-o", "m.safetensors")],
        [("--bundle", None), ("-o", ".")],
        [("--format", "png"), ("-o", ".")],
        [("--format", "png"), ("--start", "data:imgs#0"), ("-o", "imgs")],
        [("--format", "npz"), ("--start", "start.npy"), ("-o", "start.npy")],
    ],
    "analyze": [
        [("--json", "m.safetensors")],
        [("--json", "link.safetensors")],
        [("--json", "hard.safetensors")],
        [("--data", "data.npz"), ("--json", "data.npz")],
        [("--start", "start.npy"), ("--json", "start.npy")],
        [("--data", "imgs"), ("--json", "imgs/i0.png")],
        [("--json", ".")],
    ],
    "sweep": [
        [("-o", ".")],
        [("--data", "imgs"), ("-o", "imgs")],
        [("--data", "data.npz"), ("-o", "data.npz")],
    ],
}
HOSTILE_COUNTS = [0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 3]  # hostile values in one command line


@st.composite
def cli_plan(draw, cmd: str, force: tuple[str, str] | None = None):
    """A ``kgn CMD`` command line: options with values that keep a valid run short, and a few of them (none to
    three) with hostile values instead, so most lines get past the parser to the work behind it. ``force``
    (option, hostile value): that one hostile value and no other (``MODEL`` for the positional model)."""
    pairs: list[tuple[str, tuple | None]] = []
    table: list[tuple[str, list, list, float, float]] = []
    positional: list[str] = []
    hostile: list[str] = []
    model_seed = draw(sf(["model:1d-sigmoid", "model:2d-corners", "img.safetensors", "img.safetensors"]))
    if cmd == "export":
        model_seed = draw(sf(["img.safetensors"] * 5 + ["model:1d-sigmoid", "model:mnist-transformer"]))
    # valid values that fit the model: its data, a data start from it (σ and a mask apply to those only)
    vdata = MODEL_DATA[model_seed]
    vstart = draw(sf(["uniform", "uniform", "normal", MODEL_START[model_seed]]))
    data_start = vstart.startswith("data:")
    p_start = 1.0 if data_start else 0.4
    vsigma, vmask = (["0", "0.1"], ["0", "2"]) if data_start else (["0"], ["0"])

    def add(name, valid, bad=(), p=0.5, ph=0.25):
        """An option present with probability p (a valid value); ph weighs how often it is the hostile one."""
        table.append((name, list(valid), list(bad), p, ph))
        HOSTILE_OPTIONS.setdefault(cmd, {})[name] = list(bad)

    def model_arg():
        if force is not None:
            positional.append(force[1] if force[0] == "MODEL" else "m.safetensors")
            if force[0] == "MODEL":
                hostile.append(f"MODEL={force[1]}")
            return
        m = draw(sf(["m.safetensors"] * 24 + ["bad.safetensors"] * 6 + MODEL_HOSTILE[1:]))
        positional.append(m)
        if m != "m.safetensors":
            hostile.append(f"MODEL={m}")

    vtrain = draw(sf(DATA))
    images = vtrain in ("data.npz", "imgs", "idx")
    varch = ["mlp", "mlp", "cnn", "unet", "transformer"] if images else ["mlp"]
    if cmd == "train":
        add("--data", [vtrain], DATA_HOSTILE, 1.0, 0.3)
        add("--steps", ["1", "2", "3"], INT_WORK_HOSTILE, 1.0, 0.1)
        add("--L", ["1", "2"], ["0", "257", BIG, "-1", "x"], 0.9, 0.15)
        add("--H", ["2", "8"], ["0", "65536", "65537", BIG, "nan"], 0.9, 0.15)
        add("--arch", varch, ["rnn", "", "cnn", "transformer"], 0.4)
        add("--bound", ["tanh", "sigmoid"], ["relu", ""], 0.3)
        add("--lr", ["1e-3", "0.01"], FLOAT_HOSTILE, 0.4)
        add("--batch", ["1", "4", "16"], INT_SIZE_HOSTILE, 0.5)
        add("--preset", ["paper", "fast"], ["slow", ""], 0.3)
        add("--schedule", ["constant", "cosine"], ["linear"], 0.3)
        add("--warmup", ["0", "1"], [BIG, "-1", "x"], 0.2)
        add("--seed", ["0", "7"], [BIG, str(2**63), "-1", "x"], 0.3)
        add("--device", ["cpu"], DEVICES, 0.3, 0.5)
        add("--precision", ["fp32"], ["bf16", "tf32", "fp16", ""], 0.3, 0.5)
        add("--save-every", ["0", "300"], ["1", BIG, "-1", "x"], 0.2)
        add("--subset", ["0", "2", "10"], [BIG, "-1", "x"], 0.3)
        add("--image-size", ["8", "28"], [BIG, "0", "1", "100000", "x"], 0.3, 0.4)
        add("--eval-size", ["4", "16"], [BIG, "0", "x"], 0.4)
        add("--eval-every", ["1", "2"], ["0", "-1", "x"], 0.4)
        add("--name", ["n"], NAMES, 0.3, 0.6)
        add("--bottleneck", ["0", "4"], [BIG, "-1"], 0.15)
        add("--patch", ["0", "2", "4"], [BIG, "-1", "1025"], 0.15)
        add("--heads", ["0", "1", "2"], [BIG, "-1", "1025"], 0.15)
        add("-o", ["o1.safetensors", "out/o2.safetensors"], OUT_FILE, 0.97, 0.35)
        if draw(st.integers(0, 9)) == 9:
            pairs.append(("--no-graphs", None))
    elif cmd == "sample":
        if (force is None and draw(st.integers(0, 5)) == 0) or (force is not None and force[0] == "--bundle"):
            add(
                "--bundle",
                ["b", "b.zip"],
                ["bad.zip", "badb", "missing", "m.safetensors", "fifo.npy", "", "zero.npy", "data.npz"],
                1.0,
                0.5,
            )
            add("-o", ["o1", "out"], OUT_FOLDER, 0.95, 0.4)
        else:
            model_arg()
            add("-n", ["1", "4", "16"], INT_SIZE_HOSTILE + ["1048577"], 0.9, 0.25)
            add("--steps", ["1", "5", "20"], INT_WORK_HOSTILE, 0.8, 0.15)
            add("--start", [vstart], STARTS, p_start, 0.6)
            add("--sigma", vsigma, FLOAT_HOSTILE, 0.2)
            add("--mask", vmask, [BIG, "-1", "x"], 0.2)
            add("--noise", ["normal", "uniform", "none"], ["gaussian", ""], 0.3)
            add("--eps", ["0", "0.01", "0.5"], FLOAT_HOSTILE + ["10", "10.0001"], 0.4)
            add("--seed", ["0", "3"], [BIG, str(2**63), str(2**63 - 1), "-1"], 0.3)
            add("--grid-steps", ["0", "0,1", "0:1:1"], STEPS_HOSTILE + ["0,99999999999999999999"], 0.4, 0.5)
            add("--grid-n", ["1", "4", "16"], INT_SIZE_HOSTILE, 0.3, 0.4)
            lab_options(add, "sample")
            add("-o", ["o1", "out", "prev"], OUT_FOLDER, 0.9, 0.35)
    elif cmd == "export":
        model_arg()
        add("--steps", STEPS_VALID, STEPS_HOSTILE, 1.0, 0.5)
        add("--format", ["gif", "gif", "apng", "mp4", "webm", "png", "npz"], ["avi", "", "GIF"], 0.8, 0.1)
        add("--fps", ["10", "20"], FLOAT_HOSTILE + ["241", "0.09"], 0.3)
        add("--scale", ["1", "2", "4"], ["0", "33", BIG, "-1", "x"], 0.4)
        add("-n", ["1", "4"], INT_SIZE_HOSTILE, 0.95, 0.15)
        add("--chain", ["0"], ["-1", "4", BIG, "nan", ""], 0.2)
        add("--start", [vstart], STARTS, p_start, 0.6)
        add("--sigma", vsigma, FLOAT_HOSTILE, 0.15)
        add("--mask", vmask, [BIG, "-1"], 0.15)
        add("--noise", ["normal", "none"], ["x"], 0.2)
        add("--eps", ["0.01"], FLOAT_HOSTILE, 0.2)
        add("--seed", ["0"], [BIG, str(2**63)], 0.2)
        lab_options(add, "export")
        if draw(st.integers(0, 3)) == 3:  # (the simplest draw, 0, is a plain export)
            pairs.append(("--bundle", None))
        if draw(st.integers(0, 5)) == 5:
            pairs.append(("--no-overlay", None))
        add("-o", ["anim", "out/anim", "frames"], OUT_FOLDER + ["data", "m", "start"], 0.97, 0.35)
    elif cmd == "analyze":
        model_arg()
        add("--steps", ["0", "3", "10"], [BIG, "-1", "nan", "", "1000000000000"], 0.9, 0.2)
        add("-n", ["1", "4", "8"], INT_SIZE_HOSTILE, 0.8, 0.2)
        add("--start", [vstart], STARTS, p_start, 0.7)
        add("--sigma", vsigma, FLOAT_HOSTILE, 0.15)
        add(
            "--data",
            vdata,
            DATA_HOSTILE + ["points:1d-sigmoid", "points:2d-corners", "pts.npy"],
            1.0 if model_seed == "img.safetensors" else 0.5,
            0.35,
        )
        add("--tol", ["0.001"], FLOAT_HOSTILE, 0.2)
        add("--copy-tol", ["0.05"], FLOAT_HOSTILE, 0.2)
        add("--audit", ["0", "2"], [BIG, "-1", "x"], 0.8, 0.2)
        add(
            "--sigmas",
            ["0.1", "0.05,0.2"],
            ["nan", "inf", "-1", "", "1e308", ",", "0.1," * 300, "x", "1e309"],
            0.6,
            0.35,
        )
        add("--recovery-n", ["1", "5"], [BIG, "0", "-1", "10000000"], 0.8, 0.2)
        add("--recovery-T", ["1", "3"], INT_WORK_HOSTILE, 0.8, 0.15)
        add("--noise", ["normal", "none"], ["x"], 0.2)
        add("--eps", ["0.01"], FLOAT_HOSTILE, 0.2)
        lab_options(add, "analyze")
        add("--mixing", ["0.01", "0,0.05"], ["1e308", "-1", "nan", "", "0.1," * 300, "11"], 0.1, 0.5)
        add("--over-t", ["1", "0,2"], ["-1", "x", "1," * 100, "1e30"], 0.1, 0.5)
        add("--json", ["a.json", "out/a.json"], JSON_OUT, 0.5, 0.5)
    elif cmd == "sweep":
        add("--data", [vtrain if vtrain != "idx" else "data.npz"], DATA_HOSTILE, 1.0, 0.3)
        add("--depths", ["1", "1,2", "2"], ["0", "65", "", "a", "1,,2", "-1", "1.5", "1," * 40, "\uff11"], 1.0, 0.25)
        add("--steps", ["1", "3"], INT_WORK_HOSTILE, 1.0, 0.1)
        add("--sample-steps", ["1", "3"], [BIG, "0", "-1", "x"], 1.0, 0.15)
        add("--n", ["1", "4"], INT_SIZE_HOSTILE, 1.0, 0.15)
        add("--subset", ["0", "2", "10"], [BIG, "-1"], 0.9, 0.1)
        add("--audit", ["0", "2"], [BIG, "-1"], 0.9, 0.15)
        add("--batch", ["2", "16"], INT_SIZE_HOSTILE, 0.5)
        add("--H", ["2", "8"], ["0", "65536", "65537", BIG, "nan"], 0.95, 0.2)
        add("--arch", varch, ["cnn", "unet", "transformer", "x"], 0.2, 0.5)
        add("--bound", ["tanh", "sigmoid"], ["x"], 0.3)
        add("--lr", ["1e-3"], FLOAT_HOSTILE, 0.3)
        add("--seed", ["0"], [BIG, "-1"], 0.2)
        add("--device", ["cpu"], DEVICES, 0.3, 0.5)
        add("--noise", ["normal", "none"], ["x"], 0.2)
        add("--eps", ["0.01"], FLOAT_HOSTILE, 0.2)
        add("--sigmas", ["0.1"], ["nan", "inf", "-1", "", ","], 0.3, 0.4)
        add("-o", ["sw", "out"], OUT_FOLDER, 0.97, 0.35)
    elif cmd == "info":
        model_arg()
        if draw(st.booleans()):
            pairs.append(("--json", None))
    present = [draw(st.integers(0, 99)) < int(p * 100) for _, _, _, p, _ in table]
    weighted = [i for i, (_, _, bad, _, ph) in enumerate(table) if bad for _ in range(max(1, round(ph * 8)))]
    clobber = force is None and cmd in CLOBBER and draw(st.integers(0, 4)) == 0
    k = 0 if clobber or force is not None else min(draw(sf(HOSTILE_COUNTS)), len(set(weighted)))
    chosen = set(draw(st.lists(sf(weighted), min_size=k, max_size=k, unique=True))) if k else set()
    for i, (name, valid, bad, _, _) in enumerate(table):
        if i in chosen:
            pairs.append((name, ("hostile", draw(sf(bad)))))
        elif present[i]:
            pairs.append((name, ("valid", draw(sf(valid)))))
    if force is not None and force[0] != "MODEL":
        pairs = [(n, v) for n, v in pairs if n != force[0]] + [(force[0], ("hostile", force[1]))]
    if clobber:  # an output that is one of the command's inputs; the image model, so the data fit it
        scenario = draw(sf(CLOBBER[cmd]))
        model_seed = "img.safetensors"
        names = {n for n, _ in scenario}
        pairs = [(n, v) for n, v in pairs if n not in names]
        pairs += [(n, None if v is None else ("hostile", v)) for n, v in scenario]
        if positional and positional[0] != "m.safetensors":
            positional[0] = "m.safetensors"
            hostile[:] = [h for h in hostile if not h.startswith("MODEL=")]
        hostile.insert(0, "output is an input: " + " ".join(n + ("" if v is None else f" {v}") for n, v in scenario))
    pairs = draw(st.permutations(pairs))
    argv = [cmd, *positional]
    for name, v in pairs:
        argv.append(name)
        if v is not None:
            argv.append(v[1])
            if v[0] == "hostile" and not (hostile and hostile[0].startswith("output is an input")):
                hostile.append(f"{name} {v[1]!r}"[:80])
    if force is None and draw(st.integers(0, 14)) == 0:
        junk = draw(sf(JUNK))
        argv += junk
        hostile.append(" ".join(junk))
    return cli_case(draw, cmd, argv, hostile, model_seed)


def _value_after(argv: list[str], name: str, default=None):
    for i in range(len(argv) - 1, 0, -1):
        if argv[i] == name and i + 1 < len(argv):
            return argv[i + 1]
    return default


def cli_case(draw, cmd: str, argv: list[str], hostile: list[str], model_seed: str) -> dict:
    """The workspace a command line refers to, and which of its paths are inputs and outputs."""
    D = {"model:1d-sigmoid": 1, "model:2d-corners": 2, "img.safetensors": 64, "model:mnist-transformer": 784}[
        model_seed
    ]
    tokens = " ".join(argv)
    files: list[dict] = []

    def need(name: str) -> bool:
        return name in tokens

    words = set(argv)  # whole arguments: "-o m" (→ m.gif) and "-o data --format npz" (→ data.npz) name the files too
    if need("m.safetensors") or need("link.safetensors") or need("hard.safetensors") or "m" in words:
        files.append({"p": "m.safetensors", "t": "bytes", "c": {"seed": model_seed}})
    if need("link.safetensors"):
        files.append({"p": "link.safetensors", "t": "symlink", "to": "m.safetensors"})
    if need("hard.safetensors"):
        files.append({"p": "hard.safetensors", "t": "hardlink", "to": "m.safetensors"})
    if need("bad.safetensors"):
        kind, detail, c = draw(model_content())
        files.append({"p": "bad.safetensors", "t": "bytes", "c": c})
        hostile.append(f"bad.safetensors: {kind} {detail}"[:120])
    if need("data.npz") or "data" in words:
        files.append({"p": "data.npz", "t": "bytes", "c": {"seed": "tiny.npz"}})
    if need("a\nb.npz"):  # damaged files whose names hold a newline
        files.append({"p": "a\nb.npz", "t": "bytes", "c": {"npz": {"members": [["x.npy", {"body": "short"}]]}}})
    if need("a\nb.npy"):
        files.append({"p": "a\nb.npy", "t": "bytes", "c": {"npy": {"descr": "<c8", "shape": "(3,)"}}})
    if need("pts.npy"):
        files.append({"p": "pts.npy", "t": "bytes", "c": {"seed": "points.npy"}})
    if need("start.npy"):
        shape = draw(sf([f"({D},)", f"(4, {D})", f"(1, {D})"]))
        files.append({"p": "start.npy", "t": "bytes", "c": {"npy": {"descr": "<f4", "shape": shape, "values": "unit"}}})
    if need("bad.npy"):
        kind, detail, r = draw(npy_recipe())
        files.append({"p": "bad.npy", "t": "bytes", "c": {"npy": r}})
        hostile.append(f"bad.npy: {detail}"[:120])
    if need("bad.npz"):
        plan = draw(array_plan(npz=True))
        files += [
            dict(f, p=f["p"].replace("data.npz", "bad.npz").replace("DATA.NPZ", "bad.npz")) for f in plan["files"]
        ]
        hostile.append(f"bad.npz: {plan['kind']} {plan['detail']}"[:120])
    if need("badimgs"):
        plan = draw(image_plan())
        files += [dict(f, p="badimgs") for f in plan["files"]]
        hostile.append(f"badimgs: {plan['detail']}"[:120])
    elif need("imgs"):
        files.append({"p": "imgs", "t": "images", "imgs": [[f"i{i}.png", "png-L", i, 0] for i in range(3)]})
    if need("badidx"):
        kind, detail, r, _ = draw(idx_recipe("none"))
        muts = r.pop("muts", None)
        c = {"idx": r, **({"muts": muts} if muts else {})}
        files.append({"p": "badidx/train-images-idx3-ubyte", "t": "bytes", "c": c})
        hostile.append(f"badidx: {detail}"[:120])
    elif need("idx"):
        files.append(
            {
                "p": "idx/train-images-idx3-ubyte",
                "t": "bytes",
                "c": {"idx": {"code": 8, "dims": [16, 8, 8], "values": "pixels"}},
            }
        )
        files.append({"p": "idx/train-labels-idx1-ubyte", "t": "bytes", "c": {"labels": ["ok", 16, "none"]}})
    if need("bad.zip") or need("badb"):
        zipped = need("bad.zip")
        how, detail, r = draw(bundle_recipe(zipped, reproduce=True))
        files.append({"p": "bad.zip" if zipped else "badb", "t": "bundle", "b": r})
        hostile.append(f"bundle: {how} {detail}"[:120])
    if need("b.zip"):
        files.append({"p": "b.zip", "t": "bundle", "b": {"seed": "bundle"}})
    if "b" in words or need("b/"):
        files.append({"p": "b", "t": "bundle", "b": {"seed": "bundle"}})
    if need("fifo.npy"):
        files.append({"p": "fifo.npy", "t": "fifo"})
    if need("zero.npy"):
        files.append({"p": "zero.npy", "t": "symlink", "to": "/dev/zero"})
    if need("dir.safetensors"):
        files.append({"p": "dir.safetensors", "t": "dir"})
    if need("out"):
        files.append({"p": "out", "t": "dir"})
    if need("occupied"):
        files.append({"p": "occupied/keep.txt", "t": "bytes", "c": {"text": "a file of mine"}})
    if need("prev"):
        files.append({"p": "prev/sample.json", "t": "bytes", "c": {"text": "{}"}})
    if need("frames"):
        files.append({"p": "frames/frame_000000.png", "t": "bytes", "c": {"img": ["png-RGB", 0, 0]}})
    files.append({"p": "bystander.txt", "t": "bytes", "c": {"text": "not part of any command"}})

    # inputs: what the command reads
    inputs = []
    if cmd in ("sample", "export", "analyze", "info"):
        inputs += [p for p in argv[1:2] if p and not p.startswith("-")]
    for name in ("--data", "--bundle"):
        v = _value_after(argv, name)
        if v:
            inputs.append(v)
    start = _value_after(argv, "--start")
    if start:
        inputs.append(start[5:].rsplit("#", 1)[0] if start.startswith("data:") else start)
    if "link.safetensors" in inputs or "hard.safetensors" in inputs:
        inputs.append("m.safetensors")
    inputs = sorted({p for p in inputs if p and not p.startswith(("points:", "mnist"))})
    # outputs: what it may write
    outputs = []
    o = _value_after(argv, "-o")
    if o is not None:
        outputs.append(o)
    elif cmd == "sample":
        outputs.append("kgn-sample")
    j = _value_after(argv, "--json") if cmd == "analyze" else None
    if j is not None:
        outputs.append(j)
    keep = ["bystander.txt"] + (["occupied/keep.txt"] if "occupied/keep.txt" not in outputs else [])
    expect = {}
    if cmd == "info" and "--json" in argv:
        expect["json_stdout"] = True
    if cmd == "train" and o:
        expect["loads"] = o
    if cmd == "export" and "--bundle" in argv and o:
        expect["bundle"] = o
    if j:
        expect["json_file"] = j
    return {
        "group": f"kgn {cmd}",
        "entry": "cli",
        "kind": "valid options" if not hostile else _cli_kind(hostile),
        "detail": "; ".join(hostile),
        "files": files,
        "args": {"argv": argv},
        "inputs": inputs,
        "outputs": outputs,
        "keep": keep,
        "expect": expect,
        "timeout": CLI_TIMEOUT,
    }


def _cli_kind(hostile: list[str]) -> str:
    first = hostile[0]
    if first.startswith("output is an input"):
        return "output is an input"
    return first.split(" ")[0].split("=")[0].rstrip(":")


@st.composite
def top_level_plan(draw):
    argv = draw(
        sf(
            [
                [],
                ["bogus"],
                ["--version"],
                ["-h"],
                ["train"],
                ["sample", "--help"],
                ["info"],
                ["export", "m.safetensors"],
                ["--", "train"],
                ["TRAIN"],
                [""],
                ["info", "--json"],
            ]
        )
    )
    return {
        "group": "kgn (no command)",
        "entry": "cli",
        "kind": "bad command line",
        "detail": " ".join(argv),
        "files": [{"p": "bystander.txt", "t": "bytes", "c": {"text": "x"}}],
        "args": {"argv": argv},
        "inputs": [],
        "outputs": [],
        "keep": ["bystander.txt"],
        "expect": {},
        "timeout": CLI_TIMEOUT,
    }


# How many cases each group draws (about 4,700 in all; the CLI groups lose some to duplicates).
GROUPS = {
    "model files": (model_plan(), 800),
    ".npy": (array_plan(npz=False), 420),
    ".npz": (array_plan(npz=True), 420),
    "IDX raw": (idx_plan(gzipped=False), 240),
    "IDX .gz": (idx_plan(gzipped=True), 240),
    "image folders": (image_plan(), 340),
    "bundle folder": (bundle_plan(zipped=False), 250),
    "bundle zip": (bundle_plan(zipped=True), 250),
    "recovery folder": (recovery_plan(), 260),
    "kgn train": (cli_plan("train"), 240),
    "kgn sample": (cli_plan("sample"), 280),
    "kgn export": (cli_plan("export"), 260),
    "kgn analyze": (cli_plan("analyze"), 220),
    "kgn sweep": (cli_plan("sweep"), 140),
    "kgn info": (cli_plan("info"), 160),
    "kgn (no command)": (top_level_plan(), 12),
}
