#!/usr/bin/env python3
"""PyTorch reference for bench/families.ts: EAP-IG (inputs) with autograd on a Llama or Qwen2 checkpoint, float32,
batched, in the graph of DESIGN.md 3.1 (test/fixtures/archref.py's equations, batched and in float32 for speed).

  /usr/bin/python3 bench/ref/families_ref.py --model DIR --data rows.json [--steps 5] [--batch-size 20]
                   [--threads 2] [--out scores.f64]

rows.json: [{clean, corrupted, correct, incorrect}, ...] token ids, clean and corrupted of equal length; batches are
right-padded with token 0 and the metric (logit(correct) - logit(incorrect)) is read at the last real token.
Prints 'attribution wall time: S s' (weights loaded before the clock starts) and writes the [n_src, n_dst]
scores (float64, row-major) to --out. Every q/k/v input is its own per-query-head view of the residual stream
(TransformerLens' split qkv input with ungrouped GQA), so autograd gives each head's input gradient; the gradients of
a batch's 5 passes are summed in backward hooks and contracted with the activation differences once per batch (the
same sum as EAP-IG's per-pass contraction, as the oracle does it)."""
import argparse, json, os, struct, sys, time
import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'test', 'fixtures'))
from archref import inv_freq  # noqa: E402  (Llama-3 rope scaling, as HF computes it)


def read_f32(path):
    """{name: float32 tensor} from one safetensors file; BF16 widened exactly."""
    with open(path, 'rb') as f:
        n = struct.unpack('<Q', f.read(8))[0]
        header = json.loads(f.read(n))
    mm = np.memmap(path, dtype=np.uint8, mode='r', offset=8 + n)
    out = {}
    for k, v in header.items():
        if k == '__metadata__':
            continue
        a, b = v['data_offsets']
        raw = mm[a:b]
        if v['dtype'] == 'BF16':
            arr = (raw.view('<u2').astype(np.uint32) << 16).view(np.float32)
        elif v['dtype'] in ('F32', 'F16'):
            arr = raw.view('<f4' if v['dtype'] == 'F32' else '<f2').astype(np.float32)
        else:
            raise SystemExit(f'{path}: dtype {v["dtype"]} of {k} is not supported here')
        out[k] = torch.from_numpy(arr.reshape(v['shape']))
    return out


class Model:
    def __init__(self, d):
        with open(os.path.join(d, 'config.json')) as f:
            cfg = json.load(f)
        arch = cfg['architectures'][0]
        if arch not in ('LlamaForCausalLM', 'Qwen2ForCausalLM'):
            raise SystemExit(f'{d}: {arch} is not modelled by this bench reference (Llama and Qwen2 only)')
        self.cfg = cfg
        L, H, D = self.L, self.H, self.D = cfg['num_hidden_layers'], cfg['num_attention_heads'], cfg['hidden_size']
        self.KV = cfg.get('num_key_value_heads', H)
        self.hd = cfg.get('head_dim') or D // H
        self.eps = cfg['rms_norm_eps']
        self.n_src, self.n_dst = 1 + L * (H + 1), L * (3 * H + 1) + 1
        sd = read_f32(os.path.join(d, 'model.safetensors'))
        self.E = sd['model.embed_tokens.weight']
        self.U = sd.get('lm_head.weight', self.E)
        self.final = sd['model.norm.weight']
        hd, KV = self.hd, self.KV
        self.layers = []
        for l in range(L):
            g = lambda n: sd[f'model.layers.{l}.{n}']
            n1 = g('input_layernorm.weight')
            b = lambda n, rows: sd.get(f'model.layers.{l}.self_attn.{n}_proj.bias', torch.zeros(rows * hd)).view(rows, hd)
            # norm weights folded into the projections: W (w * y) = (W diag w) y
            self.layers.append(dict(
                Wq=(g('self_attn.q_proj.weight') * n1).view(H, hd, D), Wk=(g('self_attn.k_proj.weight') * n1).view(KV, hd, D),
                Wv=(g('self_attn.v_proj.weight') * n1).view(KV, hd, D), bq=b('q', H), bk=b('k', KV), bv=b('v', KV),
                Wo=g('self_attn.o_proj.weight'), n2=g('post_attention_layernorm.weight'),
                gate=g('mlp.gate_proj.weight'), up=g('mlp.up_proj.weight'), down=g('mlp.down_proj.weight')))
        self.inv = inv_freq(cfg, hd, torch.float64).float()

    def rms(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)

    def rope(self, x, cos, sin):                                # [B, T, H, hd]; HF rotate_half
        h = x.shape[-1] // 2
        return x * cos + torch.cat((-x[..., h:], x[..., :h]), -1) * sin

    def run(self, ids, lengths, embed=None, record=None, hooks=None):
        """ids [B, T]. record (buf [n_src, B, T, D], sign): buf += sign * every source's output (no grad).
        hooks (per layer [q, k, v, mlp] and the logits input: functions of the gradient): registered on every
        destination input. Returns the last real token's logits [B, V]."""
        B, T = ids.shape
        H, KV, hd, g = self.H, self.KV, self.hd, self.H // self.KV
        x = self.E[ids] if embed is None else embed
        if record is not None:
            record[0][0] += record[1] * x
        f = torch.arange(T, dtype=torch.float32)[:, None] * self.inv[None, :]
        cos, sin = torch.cat((f, f), -1).cos()[None, :, None], torch.cat((f, f), -1).sin()[None, :, None]
        mask = torch.ones(T, T, dtype=torch.bool).tril()
        resid = x
        for l, p in enumerate(self.layers):
            prev = 1 + l * (H + 1)
            ins = [resid[:, :, None, :].expand(B, T, H, self.D) for _ in range(3)]    # one view per query head
            if hooks is not None:
                for j in range(3):
                    ins[j].register_hook(hooks[l][j])
            Wk, Wv = p['Wk'].repeat_interleave(g, 0), p['Wv'].repeat_interleave(g, 0)  # ungrouped: [H, hd, D]
            bk, bv = p['bk'].repeat_interleave(g, 0), p['bv'].repeat_interleave(g, 0)
            q = self.rope(torch.einsum('bthd,hed->bthe', self.rms(ins[0]), p['Wq']) + p['bq'], cos, sin)
            k = self.rope(torch.einsum('bthd,hed->bthe', self.rms(ins[1]), Wk) + bk, cos, sin)
            v = torch.einsum('bthd,hed->bthe', self.rms(ins[2]), Wv) + bv
            s = torch.einsum('bqhe,bkhe->bhqk', q, k) * hd ** -0.5
            a = s.masked_fill(~mask, float('-inf')).softmax(-1)
            z = torch.einsum('bhqk,bkhe->bqhe', a, v)                                 # [B, T, H, hd]
            if record is not None:                                                    # each head's result
                record[0][prev:prev + H] += record[1] * torch.einsum('bthe,dhe->hbtd', z, p['Wo'].view(self.D, H, hd))
            resid = resid + z.reshape(B, T, H * hd) @ p['Wo'].T
            xm = resid.view_as(resid)                                                 # the MLP's own input node
            if hooks is not None:
                xm.register_hook(hooks[l][3])
            y = self.rms(xm) * p['n2']
            m = (F.silu(y @ p['gate'].T) * (y @ p['up'].T)) @ p['down'].T
            if record is not None:
                record[0][prev + H] += record[1] * m
            resid = resid + m
        fin = resid.view_as(resid)
        if hooks is not None:
            fin.register_hook(hooks[-1])
        last = fin[torch.arange(B), lengths - 1]                                      # [B, D]
        return (self.rms(last) * self.final) @ self.U.T


def batches(rows, size):
    for i in range(0, len(rows), size):
        rs = rows[i:i + size]
        T = max(len(r['clean']) for r in rs)
        pad = lambda key: torch.tensor([r[key] + [0] * (T - len(r[key])) for r in rs])
        yield (pad('clean'), pad('corrupted'), torch.tensor([len(r['clean']) for r in rs]),
               torch.tensor([r['correct'] for r in rs]), torch.tensor([r['incorrect'] for r in rs]))


def eap_ig(model, rows, steps, batch_size, micro_batch=None):
    L, H, D = model.L, model.H, model.D
    S = torch.zeros(model.n_src, model.n_dst, dtype=torch.float64)
    for full in batches(rows, batch_size):
        # a micro-batch keeps the whole batch's 1/B (its loss is its share of the batch mean): the same scores
        n_full = full[0].shape[0]
        for c0 in range(0, n_full, micro_batch or n_full):
            eap_ig_chunk(model, S, [t[c0:c0 + (micro_batch or n_full)] for t in full], n_full, steps)
    return S / (len(rows) * steps)


def eap_ig_chunk(model, S, chunk, n_full, steps):
    """Adds one (micro-)batch's unnormalised contribution to S; its loss is divided by the full batch's size."""
    L, H, D = model.L, model.H, model.D
    clean, corr, lengths, yc, yi = chunk
    B, T = clean.shape
    with torch.no_grad():
        delta = torch.zeros(model.n_src, B, T, D)
        model.run(corr, lengths, record=(delta, 1.0))
        model.run(clean, lengths, record=(delta, -1.0))
    G = [[torch.zeros(B, T, H, D) for _ in range(3)] + [torch.zeros(B, T, D)] for _ in range(L)] + [torch.zeros(B, T, D)]
    def adder(t):
        def hook(grad):
            t.add_(grad)
        return hook
    hooks = [[adder(t) for t in layer] for layer in G[:-1]] + [adder(G[-1])]
    ec, ex = model.E[clean], model.E[corr]
    for k in range(steps):                       # e_k = e' + (k/m)(e - e'), k = 0..m-1
        e = (ex + (k / steps) * (ec - ex)).requires_grad_(True)
        logits = model.run(clean, lengths, embed=e, hooks=hooks)
        b = torch.arange(B)
        loss = -(logits[b, yc] - logits[b, yi]).sum() / n_full
        loss.backward()
    d = delta.reshape(model.n_src, -1)
    for l in range(L):
        prev, c0 = 1 + l * (H + 1), l * (3 * H + 1)
        gl = torch.cat([t.permute(2, 0, 1, 3).reshape(H, -1) for t in G[l][:3]] + [G[l][3].reshape(1, -1)])
        r = (d[:prev + H] @ gl.T).double()
        S[:prev, c0:c0 + 3 * H] += r[:prev, :3 * H]                  # same-layer heads are not parents of q/k/v
        S[:prev + H, c0 + 3 * H] += r[:, 3 * H]
    S[:, -1] += (d @ G[-1].reshape(-1)).double()


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--model', required=True)
    p.add_argument('--data', required=True)
    p.add_argument('--steps', type=int, default=5)
    p.add_argument('--batch-size', type=int, default=20)
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--micro-batch', type=int, help='run each batch in chunks of this many rows (same scores, less memory)')
    p.add_argument('--out')
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    with open(a.data) as f:
        rows = json.load(f)
    t0 = time.perf_counter()
    model = Model(a.model)
    print(f'load: {time.perf_counter() - t0:.1f} s', flush=True)
    t0 = time.perf_counter()
    with torch.enable_grad():
        S = eap_ig(model, rows, a.steps, a.batch_size, a.micro_batch)
    print(f'attribution wall time: {time.perf_counter() - t0:.2f} s', flush=True)
    if a.out:
        S.numpy().astype('<f8').tofile(a.out)


if __name__ == '__main__':
    main()
