#!/usr/bin/env bash
# A sharded `eapgp reproduce` on a Slurm job array, then the merge (docs/scale-out.md).
#
#   sbatch --array=0-7 docs/scale-out/slurm-reproduce.sh          # 8 shards (any --array range works: the
#                                                                 # shard index is TASK_ID − TASK_MIN)
#   sbatch --dependency=afterok:<array job id> docs/scale-out/slurm-reproduce.sh merge
#
# Every array task runs one shard of the (task, method) pairs into the shared directory $OUT (a file system
# all nodes see); a killed or requeued task resumes (finished pairs are kept in $OUT/state). The merge writes
# $OUT/results.json, report.md and the plots: the same bytes as one `eapgp reproduce` on one machine.
# Settings come from the environment (sbatch --export=ALL,MODEL=gpt2-xl,LIMIT=1000 ...).
#
#SBATCH --job-name=eapgp-reproduce
#SBATCH --cpus-per-task=16
#SBATCH --mem=64G
#SBATCH --time=24:00:00
#SBATCH --requeue
#SBATCH --output=eapgp-%A_%a.out
set -euo pipefail

read -r -a EAPGP_CMD <<< "${EAPGP:-eapgp}"   # e.g. EAPGP="node /opt/eap-gp/dist/src/cli/main.js"
OUT=${OUT:-runs/reproduce}
MODEL=${MODEL:-}                          # a hub name or directory; empty: the built-in model
TASKS=${TASKS:-ioi,greater-than,sva,gender-bias,capital-country,hypernymy}
METHODS=${METHODS:-eap,eap-ig,eap-gp}
LIMIT=${LIMIT:-100}
BATCH_SIZE=${BATCH_SIZE:-20}
THREADS=${THREADS:-${SLURM_CPUS_PER_TASK:-}}

common=(--tasks "$TASKS" --methods "$METHODS" --limit "$LIMIT" --batch-size "$BATCH_SIZE" --quiet)
[[ -n "$MODEL" ]] && common+=(--model "$MODEL")
[[ -n "$THREADS" ]] && common+=(--threads "$THREADS")

if [[ "${1:-}" == merge ]]; then
  "${EAPGP_CMD[@]}" merge "$OUT" --out "$OUT"
else
  if [[ -z "${SLURM_ARRAY_TASK_ID:-}" ]]; then
    echo "slurm-reproduce.sh: not in a job array (SLURM_ARRAY_TASK_ID unset); submit with sbatch --array=0-N, or pass 'merge'" >&2
    exit 2
  fi
  "${EAPGP_CMD[@]}" reproduce "${common[@]}" --shard auto --out "$OUT"
fi
