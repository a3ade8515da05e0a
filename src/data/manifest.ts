/**
 * The published data `eapgp data fetch` downloads: the EAP-IG paper's task CSVs (Hanna et al. 2024,
 * hannamw/eap-ig-faithfulness), tokenized for GPT-2 (data/<task>/gpt2.csv) and for Pythia's GPT-NeoX-20B
 * tokenizer (data/<task>/pythia.csv), with the companion files our loaders read, its published result tables, and
 * ACDC's canonical IOI and Greater-Than circuits (Conmy et al. 2023). Each file is pinned by repository,
 * commit, path, size and sha256; in the cache it sits at `file`, a layout `reproduce --data-dir` also reads
 * (<task>/eapig-faithfulness_gpt2.csv and _pythia.csv, sva's verb list next to them). The MIB benchmark's task
 * data (mib-files.ts) comes from the Hugging Face hub, trusted on first use.
 */
import type { TokenizerKind } from '../tokenizer/types.js';
import { MIB_DATA_GROUPS, MIB_FILES } from './mib-files.js';

/** A public repository at a fixed commit (or, for files trusted on first use, a branch: mib-files.ts). */
export interface DataSource {
  repo: string;
  commit: string;
  /** Where the repository lives: GitHub (the default) or a dataset on the Hugging Face hub. */
  host?: 'github' | 'huggingface-dataset';
}

/** One pinned file. */
export interface DataFile {
  /** What `eapgp data fetch GROUP` names it by. */
  group: string;
  /** Where it sits in the cache, '/'-separated. */
  file: string;
  source: DataSource;
  /** Its path in the repository. */
  path: string;
  /** Size and sha256 of the published bytes; absent for a file trusted on first use (mib-files.ts). */
  size?: number;
  sha256?: string;
  /** For a CSV of token ids: the tokenizer its ids are of (files for any tokenizer have none). */
  tokenizer?: PublishedKind;
}

/** The tokenizers the published id-CSVs were made for. */
export type PublishedKind = Exclude<TokenizerKind, 'other'>;

const EAP_IG_FAITHFULNESS: DataSource = { repo: 'hannamw/eap-ig-faithfulness', commit: 'd42fea6aa2c7acca39007c9c94923770669cb9ae' };
const ACDC: DataSource = { repo: 'ArthurConmy/Automatic-Circuit-Discovery', commit: 'bc99ace817974b5584b7ee203d596a8e2bbcd399' };

/** The groups in `eapgp data fetch` order, with what each holds. */
export const DATA_GROUPS: readonly { name: string; about: string }[] = [
  { name: 'ioi', about: 'IOI task CSVs for GPT-2 and Pythia (1,000 rows each)' },
  { name: 'greater-than', about: 'Greater-Than task CSVs for GPT-2 and Pythia (1,000 rows each)' },
  { name: 'sva', about: 'subject-verb agreement task CSVs for GPT-2 and Pythia (12,400 rows each) and their verb list' },
  { name: 'gender-bias', about: 'Gender-Bias task CSVs for GPT-2 (986 rows) and Pythia (782 rows)' },
  { name: 'capital-country', about: 'Capital-Country task CSVs for GPT-2 (190 rows) and Pythia (189 rows)' },
  { name: 'hypernymy', about: 'Hypernymy task CSVs for GPT-2 and Pythia (198 rows each)' },
  { name: 'reference', about: "the EAP-IG paper's published result tables (baselines, faithfulness curves, overlaps)" },
  { name: 'circuits', about: "ACDC's canonical IOI and Greater-Than circuits (Graphviz)" },
  ...MIB_DATA_GROUPS,
];

type Row = [group: string, file: string, source: DataSource, path: string, size: number, sha256: string, tokenizer?: PublishedKind];

const ROWS: readonly Row[] = [
  ['ioi', 'ioi/eapig-faithfulness_gpt2.csv', EAP_IG_FAITHFULNESS, 'data/ioi/gpt2.csv', 262312, 'a3de03844889e044569d90022f86f8af863319a28547d2f89ff11b9b6b33ea9b', 'gpt2'],
  ['ioi', 'ioi/eapig-faithfulness_pythia.csv', EAP_IG_FAITHFULNESS, 'data/ioi/pythia.csv', 261697, '6518a7b0df83ee777432c198153eb6bbd2ae7d83994829bf7a3f7c2770813ec5', 'neox'],
  ['greater-than', 'greater-than/eapig-faithfulness_gpt2.csv', EAP_IG_FAITHFULNESS, 'data/greater-than/gpt2.csv', 107062, '05f0479c0f5198838465a6cb540dc8e839dc02232f4e4f423a28c78a858fc6fe', 'gpt2'],
  ['greater-than', 'greater-than/eapig-faithfulness_pythia.csv', EAP_IG_FAITHFULNESS, 'data/greater-than/pythia.csv', 107726, 'e11a4bba1a996597edc51ae24ea9be8b7c39207b35e4432340c10da90ef8bb52', 'neox'],
  ['sva', 'sva/eapig-faithfulness_gpt2.csv', EAP_IG_FAITHFULNESS, 'data/sva/gpt2.csv', 1155901, 'a297cae20f5e48c83d5a52b71cbb19d142d4832f3d137a7ed0b7be3ccc04405d', 'gpt2'],
  ['sva', 'sva/eapig-faithfulness_pythia.csv', EAP_IG_FAITHFULNESS, 'data/sva/pythia.csv', 1155901, '760aa029a9789cbcbd746ca07d7831b2bda7dd2e56a72550700b9c8f41db34c2', 'neox'],
  ['sva', 'sva/eapig-faithfulness_combined_verb_list.csv', EAP_IG_FAITHFULNESS, 'data/sva/combined_verb_list.csv', 38311, '278a64cee91d49b57e9313192a9fa0c4e0114a06a8cd2f532b955d436bee8d7b'],
  ['gender-bias', 'gender-bias/eapig-faithfulness_gpt2.csv', EAP_IG_FAITHFULNESS, 'data/gender-bias/gpt2.csv', 59909, '09dfcbf32a464e314f7c42b571ff46fc937513cfcf338a89aab8f0dbf8b5c5a9', 'gpt2'],
  ['gender-bias', 'gender-bias/eapig-faithfulness_pythia.csv', EAP_IG_FAITHFULNESS, 'data/gender-bias/pythia.csv', 47421, '91bf186d9e9f7f1ee65f2e3648e575345460f23d01586410bdc199a18d035892', 'neox'],
  ['capital-country', 'capital-country/eapig-faithfulness_gpt2.csv', EAP_IG_FAITHFULNESS, 'data/fact-retrieval-comma/gpt2.csv', 19574, 'b8dff2117cce0069aa7088a7fafddab5a0fd1501e1e8a72f87e321b616a34929', 'gpt2'],
  ['capital-country', 'capital-country/eapig-faithfulness_pythia.csv', EAP_IG_FAITHFULNESS, 'data/fact-retrieval-comma/pythia.csv', 19542, '2e3d02dfd341f784180f8d02ef69c7520945195710542e229ea5574da17bbf60', 'neox'],
  ['hypernymy', 'hypernymy/eapig-faithfulness_gpt2.csv', EAP_IG_FAITHFULNESS, 'data/hypernymy-comma/gpt2.csv', 44815, '569112f2a1cec681819d81a9327faad7fd447ce9c8d0447df43a3aa3cfc10315', 'gpt2'],
  ['hypernymy', 'hypernymy/eapig-faithfulness_pythia.csv', EAP_IG_FAITHFULNESS, 'data/hypernymy-comma/pythia.csv', 41130, '5a2539d1f4484c6268d1e3c711c586e968b50f7cb38e7ed130c03946db671e0e', 'neox'],
  ['reference', 'reference-results/eap-ig-faithfulness/cross-task__gpt2__csv__faithfulness.csv', EAP_IG_FAITHFULNESS, 'results/cross-task/gpt2/csv/faithfulness.csv', 1725, '6505c409b8cc60bfe8de9bdf841b8b19a93c07c531032d022340e15faae8c135'],
  ['reference', 'reference-results/eap-ig-faithfulness/faithfulness__csv__fact-retrieval-comma_fact-retrieval-rev.csv', EAP_IG_FAITHFULNESS, 'results/faithfulness/csv/fact-retrieval-comma_fact-retrieval-rev.csv', 868, 'f70b71e059d165d7fee33fd02ba31a01a8afd9387fb2977f2c778e98b90160dd'],
  ['reference', 'reference-results/eap-ig-faithfulness/faithfulness__csv__fact-retrieval-comma_fact-retrieval.csv', EAP_IG_FAITHFULNESS, 'results/faithfulness/csv/fact-retrieval-comma_fact-retrieval.csv', 871, '6c980194690ba5d75064fc729d518ffb7bfdca232d148730bd8ce332d1e76c5a'],
  ['reference', 'reference-results/eap-ig-faithfulness/faithfulness__csv__greater-than_greater-than-price.csv', EAP_IG_FAITHFULNESS, 'results/faithfulness/csv/greater-than_greater-than-price.csv', 834, '18ca0c526e3801095fd73bdea06438ebd0297fbd54f43fc124516d4d1c4bf487'],
  ['reference', 'reference-results/eap-ig-faithfulness/faithfulness__csv__greater-than_greater-than-sequence.csv', EAP_IG_FAITHFULNESS, 'results/faithfulness/csv/greater-than_greater-than-sequence.csv', 836, 'ac2c7a7addc6a2bc1b633f6bfae3fcfae8e5dd73c80a250b87f7cdea0e5ab7a7'],
  ['reference', 'reference-results/eap-ig-faithfulness/faithfulness__csv__hypernymy-comma_fact-retrieval-comma.csv', EAP_IG_FAITHFULNESS, 'results/faithfulness/csv/hypernymy-comma_fact-retrieval-comma.csv', 899, '6a46ef263e8473b2dfc8e3e684755c791a57d27a75289a995d413222997ab040'],
  ['reference', 'reference-results/eap-ig-faithfulness/ig_test__gpt2__csv__gender-bias_logit_diff_ig_test.csv', EAP_IG_FAITHFULNESS, 'results/ig_test/gpt2/csv/gender-bias_logit_diff_ig_test.csv', 3020, 'f1e35d083fd14ecbbe8c38bced9ce566c5eda18e92d225733b6695c5900d97de'],
  ['reference', 'reference-results/eap-ig-faithfulness/ig_test__gpt2__csv__greater-than_prob_diff_ig_test.csv', EAP_IG_FAITHFULNESS, 'results/ig_test/gpt2/csv/greater-than_prob_diff_ig_test.csv', 2752, 'd5d18b803c4e0b936c0800a4a9d65420f31baea00f6b427fb24fdecb7afc15cc'],
  ['reference', 'reference-results/eap-ig-faithfulness/ig_test__gpt2__csv__ioi_logit_diff_ig_test.csv', EAP_IG_FAITHFULNESS, 'results/ig_test/gpt2/csv/ioi_logit_diff_ig_test.csv', 5723, 'ad87c9fa27569c98b70db5dc36f22c7f5cb02e4c190cc431e99aa302e69f25db'],
  ['reference', 'reference-results/eap-ig-faithfulness/jaccard__csv__edge_iou_ps.csv', EAP_IG_FAITHFULNESS, 'results/jaccard/csv/edge_iou_ps.csv', 367, 'c23c9b18118853a95a16368ccb405ca603a0a875e2c8220a44dde3e46c4ac1bb'],
  ['reference', 'reference-results/eap-ig-faithfulness/jaccard__csv__edge_ious.csv', EAP_IG_FAITHFULNESS, 'results/jaccard/csv/edge_ious.csv', 1227, 'abb9cdc191347566c69063c5c70ce1073ce163f526d089c95613c5ed8c2e7f19'],
  ['reference', 'reference-results/eap-ig-faithfulness/jaccard__csv__edge_overlap.csv', EAP_IG_FAITHFULNESS, 'results/jaccard/csv/edge_overlap.csv', 1242, '87eb4833ae66084c6c00011bb4784bbe7deb36838c7f74575f3ff5c22c0ea096'],
  ['reference', 'reference-results/eap-ig-faithfulness/jaccard__csv__node_iou_ps.csv', EAP_IG_FAITHFULNESS, 'results/jaccard/csv/node_iou_ps.csv', 1292, 'd0eaf970ac21565c3c38314fa19089d635e46c3cea946c3da5ba94b2b9eac7d9'],
  ['reference', 'reference-results/eap-ig-faithfulness/jaccard__csv__node_ious.csv', EAP_IG_FAITHFULNESS, 'results/jaccard/csv/node_ious.csv', 1225, 'e22455018f21998c01386fc4443f5a7a8dff8bde3b195963a482593b23871050'],
  ['reference', 'reference-results/eap-ig-faithfulness/jaccard__csv__node_overlap.csv', EAP_IG_FAITHFULNESS, 'results/jaccard/csv/node_overlap.csv', 1173, 'b5fc0fb63c19e554b5491f14996666fce7670813a8a68f9135a813b72e454ea3'],
  ['reference', 'reference-results/eap-ig-faithfulness/manual_overlap__csv__greater-than_node_edge_precision_recall.csv', EAP_IG_FAITHFULNESS, 'results/manual_overlap/csv/greater-than_node_edge_precision_recall.csv', 27221, '3fd6a586ebf920cfcb2ecc831897537f56a832e35f70462573421677a855c1f7'],
  ['reference', 'reference-results/eap-ig-faithfulness/manual_overlap__csv__ioi_node_edge_precision_recall.csv', EAP_IG_FAITHFULNESS, 'results/manual_overlap/csv/ioi_node_edge_precision_recall.csv', 28235, '19b2148b94c9f5f4d96d69035295d6b2f8ab152e9c7522f88cd4b30f981a14d3'],
  ['reference', 'reference-results/eap-ig-faithfulness/pareto__gpt2-xl__csv-old__fact-retrieval-comma.csv', EAP_IG_FAITHFULNESS, 'results/pareto/gpt2-xl/csv-old/fact-retrieval-comma.csv', 2361, '2b84260fdade5e1ccec209510a4f18d2f4fb08ec188d1f188ef1694d6af3892a'],
  ['reference', 'reference-results/eap-ig-faithfulness/pareto__gpt2-xl__csv-old__gender-bias.csv', EAP_IG_FAITHFULNESS, 'results/pareto/gpt2-xl/csv-old/gender-bias.csv', 2426, '6665cdf3b58f658d21304e78c2f5e958140eb5b3cb386ad37cf8f497c91d5df2'],
  ['reference', 'reference-results/eap-ig-faithfulness/pareto__gpt2-xl__csv-old__greater-than.csv', EAP_IG_FAITHFULNESS, 'results/pareto/gpt2-xl/csv-old/greater-than.csv', 2481, '8e26a721444de51271954fcf7f59a1ece65c707bbaec6ea5917c5edf4dac342c'],
  ['reference', 'reference-results/eap-ig-faithfulness/pareto__gpt2-xl__csv-old__hypernymy-comma.csv', EAP_IG_FAITHFULNESS, 'results/pareto/gpt2-xl/csv-old/hypernymy-comma.csv', 2493, '3bd37d6221fb4f1ecac103cab9cb8105ba57757e10453dc2e1cef8881e1c21f0'],
  ['reference', 'reference-results/eap-ig-faithfulness/pareto__gpt2-xl__csv-old__sva.csv', EAP_IG_FAITHFULNESS, 'results/pareto/gpt2-xl/csv-old/sva.csv', 2527, 'd98fa9bbf8d46007b302ec2458616504113301d3b4a7546b1811802324ff8f89'],
  ['reference', 'reference-results/eap-ig-faithfulness/pareto__gpt2-xl__csv__fact-retrieval-comma.csv', EAP_IG_FAITHFULNESS, 'results/pareto/gpt2-xl/csv/fact-retrieval-comma.csv', 1461, '396778770f23d41feacd0889109da95730641d48cfe804fdf07e14ba34186c7c'],
  ['reference', 'reference-results/eap-ig-faithfulness/pareto__gpt2-xl__csv__gender-bias.csv', EAP_IG_FAITHFULNESS, 'results/pareto/gpt2-xl/csv/gender-bias.csv', 1499, '81a85c9631ae79ef7c64c112ef2ae4f2395b35d8101f622221281fef5ae4cf3a'],
  ['reference', 'reference-results/eap-ig-faithfulness/pareto__gpt2-xl__csv__greater-than.csv', EAP_IG_FAITHFULNESS, 'results/pareto/gpt2-xl/csv/greater-than.csv', 1531, '4b286f341f2193f2011836de636e25cfd4c5d7e41df2732e43f8a0e5ce7c6f48'],
  ['reference', 'reference-results/eap-ig-faithfulness/pareto__gpt2-xl__csv__hypernymy-comma.csv', EAP_IG_FAITHFULNESS, 'results/pareto/gpt2-xl/csv/hypernymy-comma.csv', 1549, '9f91667e8dacfd720e0f922b5d9be8a8a7ff443ca0d14c2a163db03d9f58f52a'],
  ['reference', 'reference-results/eap-ig-faithfulness/pareto__gpt2-xl__csv__ioi.csv', EAP_IG_FAITHFULNESS, 'results/pareto/gpt2-xl/csv/ioi.csv', 1498, '75fcd513f1449cfa14f2c9264f25a40804d977559648ab7fe4f172714b5b50d3'],
  ['reference', 'reference-results/eap-ig-faithfulness/pareto__gpt2-xl__csv__sva.csv', EAP_IG_FAITHFULNESS, 'results/pareto/gpt2-xl/csv/sva.csv', 1559, 'd11f0bfe59b43ed6ac23341c5c8d9c2d3ea65a0637e090720dd7295ae477597c'],
  ['reference', 'reference-results/eap-ig-faithfulness/pareto__gpt2__csv__fact-retrieval-comma.csv', EAP_IG_FAITHFULNESS, 'results/pareto/gpt2/csv/fact-retrieval-comma.csv', 1448, '016b3e4c4ca0149cb18c0fd4336ba9e185bc44e384caeceffb06aee4f56f4b38'],
  ['reference', 'reference-results/eap-ig-faithfulness/pareto__gpt2__csv__gender-bias.csv', EAP_IG_FAITHFULNESS, 'results/pareto/gpt2/csv/gender-bias.csv', 2435, '5ec2296104881b9d11d676300af32269a40b645086c407106cb84375d8ae513b'],
  ['reference', 'reference-results/eap-ig-faithfulness/pareto__gpt2__csv__gender-pronoun.csv', EAP_IG_FAITHFULNESS, 'results/pareto/gpt2/csv/gender-pronoun.csv', 2350, '6ca5e5d718e50cb85a0e7b47df55789b99ecd1fb782ea12c27d2ba5c909edde2'],
  ['reference', 'reference-results/eap-ig-faithfulness/pareto__gpt2__csv__greater-than-price.csv', EAP_IG_FAITHFULNESS, 'results/pareto/gpt2/csv/greater-than-price.csv', 2429, '7252c190b4a610e139e3918d0beac12248079957ba166b9e61970d6226fd8136'],
  ['reference', 'reference-results/eap-ig-faithfulness/pareto__gpt2__csv__greater-than-sequence.csv', EAP_IG_FAITHFULNESS, 'results/pareto/gpt2/csv/greater-than-sequence.csv', 2439, 'e3e8aa2bef8d2e54f807e70e8cacfd69ff63229225ea3157a8952e9221eed83f'],
  ['reference', 'reference-results/eap-ig-faithfulness/pareto__gpt2__csv__greater-than.csv', EAP_IG_FAITHFULNESS, 'results/pareto/gpt2/csv/greater-than.csv', 2409, '8bb7fbd93a90ec050fa0ce928d1ddef0a6590149789975dd310e0e757860630e'],
  ['reference', 'reference-results/eap-ig-faithfulness/pareto__gpt2__csv__hypernymy-comma.csv', EAP_IG_FAITHFULNESS, 'results/pareto/gpt2/csv/hypernymy-comma.csv', 3850, '81385591120413fab81438419d09f542286bcb8974b8856d3babd2b306b065a9'],
  ['reference', 'reference-results/eap-ig-faithfulness/pareto__gpt2__csv__ioi.csv', EAP_IG_FAITHFULNESS, 'results/pareto/gpt2/csv/ioi.csv', 3646, 'f60e434316ff0c07fbf4c680a8ee30c0ad6b56c950aa871b0c4675c43434e543'],
  ['reference', 'reference-results/eap-ig-faithfulness/pareto__gpt2__csv__sva.csv', EAP_IG_FAITHFULNESS, 'results/pareto/gpt2/csv/sva.csv', 1491, 'f9c32e250b52ab04a6a883d0b96616aa9ccad4184d2dc2b8a4707436bc142c7a'],
  ['reference', 'reference-results/eap-ig-faithfulness/pareto__pythia-2.8B__csv__fact-retrieval-comma.csv', EAP_IG_FAITHFULNESS, 'results/pareto/pythia-2.8B/csv/fact-retrieval-comma.csv', 859, 'd4b126c7091c29fbba01bcbf511e66071b4e06921e088e87eabf6fe32adb509f'],
  ['reference', 'reference-results/eap-ig-faithfulness/pareto__pythia-2.8B__csv__gender-bias.csv', EAP_IG_FAITHFULNESS, 'results/pareto/pythia-2.8B/csv/gender-bias.csv', 1506, 'bdab5b6fd7a6df4d149bd5e085f8aeb1d20045e43e0d07b812e7588333e85bf1'],
  ['reference', 'reference-results/eap-ig-faithfulness/pareto__pythia-2.8B__csv__greater-than.csv', EAP_IG_FAITHFULNESS, 'results/pareto/pythia-2.8B/csv/greater-than.csv', 1514, '0f4b010ea80997b4b00fe2dc9168a9fb127755cadc1afaf235150d35280525e6'],
  ['reference', 'reference-results/eap-ig-faithfulness/pareto__pythia-2.8B__csv__hypernymy-comma.csv', EAP_IG_FAITHFULNESS, 'results/pareto/pythia-2.8B/csv/hypernymy-comma.csv', 1553, '01017f5a35a89080dec114c9bbfd8a53cf8b77ac2cf43dcef3e8550fd6fe52af'],
  ['reference', 'reference-results/eap-ig-faithfulness/pareto__pythia-2.8B__csv__ioi.csv', EAP_IG_FAITHFULNESS, 'results/pareto/pythia-2.8B/csv/ioi.csv', 1515, '260b4401723acaae36af5d1cd7493ac06de463a82d15ce3b2dbfd7d189767a35'],
  ['reference', 'reference-results/eap-ig-faithfulness/pareto__pythia-2.8B__csv__sva.csv', EAP_IG_FAITHFULNESS, 'results/pareto/pythia-2.8B/csv/sva.csv', 1536, '1af135e344860160dc8a3be6ad5c3f2bff023736b56bbc9fec6d53235971cc6e'],
  ['reference', 'reference-results/eap-ig-faithfulness/real__gpt2__csv__fact-retrieval-comma.csv', EAP_IG_FAITHFULNESS, 'results/real/gpt2/csv/fact-retrieval-comma.csv', 2743, '69ac12bec08280e06d27ca395fb611108fdb9765c73777b56f43832773f65218'],
  ['reference', 'reference-results/eap-ig-faithfulness/real__gpt2__csv__gender-bias.csv', EAP_IG_FAITHFULNESS, 'results/real/gpt2/csv/gender-bias.csv', 2829, '00496f678d2aa338b8c3f477a8809ae63e9dff97d120b31ca3079560af854f74'],
  ['reference', 'reference-results/eap-ig-faithfulness/real__gpt2__csv__greater-than.csv', EAP_IG_FAITHFULNESS, 'results/real/gpt2/csv/greater-than.csv', 1486, '98674e003ef99934878e5a9252b46ae73c3b4cb8d351fcfbeb7d3828097d01b0'],
  ['reference', 'reference-results/eap-ig-faithfulness/real__gpt2__csv__hypernymy-comma.csv', EAP_IG_FAITHFULNESS, 'results/real/gpt2/csv/hypernymy-comma.csv', 4677, '9d0ca5fb18cb248a192d89fd0e25850ad5a6802735bdd7536685ec6fcbf642de'],
  ['reference', 'reference-results/eap-ig-faithfulness/real__gpt2__csv__ioi.csv', EAP_IG_FAITHFULNESS, 'results/real/gpt2/csv/ioi.csv', 4427, '7f224a9b009b70e64aaa54b24de0cc7907046c5ac8c6c8f160c7d01948f7ad06'],
  ['reference', 'reference-results/eap-ig-faithfulness/real__gpt2__csv__sva.csv', EAP_IG_FAITHFULNESS, 'results/real/gpt2/csv/sva.csv', 2937, '1c204d1fe07fa7f2d5c92ec85fd38584d0b1a3430021715fe22b20e6d39f3adb'],
  ['reference', 'reference-results/eap-ig-faithfulness/real_rank__gpt2__correlations.json', EAP_IG_FAITHFULNESS, 'results/real_rank/gpt2/correlations.json', 1638, '9a8da87b3013ccc5f37cdf06b1db97aa2b4282e4ad98013f95e995d5763e7d74'],
  ['reference', 'reference-results/eap-ig-faithfulness/real_rank__gpt2__csv__all-overlap.csv', EAP_IG_FAITHFULNESS, 'results/real_rank/gpt2/csv/all-overlap.csv', 91724, '53dc4cc41597d0b2d8f8f6ce9286069cda43016698cc20fdb30eea0898f0d26e'],
  ['reference', 'reference-results/eap-ig-faithfulness/real_rank__gpt2__csv__edge-overlap.csv', EAP_IG_FAITHFULNESS, 'results/real_rank/gpt2/csv/edge-overlap.csv', 186241, 'c3d1e6326692170d2b835bed5dd40b8d9a9c6af10f16cac10d04f46d2ffdd200'],
  ['reference', 'reference-results/eap-ig-faithfulness/real_rank__gpt2__csv__node-overlap.csv', EAP_IG_FAITHFULNESS, 'results/real_rank/gpt2/csv/node-overlap.csv', 171841, '0588e1122fba99f9814042d23ee3963b7257363e66c563d2a742702d21a65d4a'],
  ['circuits', 'ground-truth-circuits/acdc_canonical_greaterthan_layout.gv', ACDC, 'experiments/results/canonical_circuits/greaterthan/layout.gv', 38748, 'de8b9dce02fe54c0d2153417fa24b54dd113aaef6a709584b7f949227d83eac3'],
  ['circuits', 'ground-truth-circuits/acdc_canonical_ioi_layout.gv', ACDC, 'experiments/results/canonical_circuits/ioi/layout.gv', 105238, '40da8e519c154391fdbe9f8a111484d77d273ac08ee3d8aff258d60744dfee0c'],
];

export const DATA_FILES: readonly DataFile[] = [
  ...ROWS.map(([group, file, source, path, size, sha256, tokenizer]): DataFile =>
    tokenizer === undefined ? { group, file, source, path, size, sha256 } : { group, file, source, path, size, sha256, tokenizer }),
  ...MIB_FILES,
];

/** Whether the file's bytes are pinned (size and sha256 in the manifest), or trusted on first use. */
export const isPinned = (f: DataFile): f is DataFile & { size: number; sha256: string } => f.size !== undefined && f.sha256 !== undefined;

/** The published file name of a task's CSV for a tokenizer: gpt2 → _gpt2.csv, neox (Pythia) → _pythia.csv. */
export const csvNameFor = (kind: PublishedKind): string => `eapig-faithfulness_${kind === 'neox' ? 'pythia' : 'gpt2'}.csv`;

/** The CSV of a task in the cache layout, for the tokenizer `kind` (default GPT-2's). */
export const taskCsvFile = (task: string, kind: PublishedKind = 'gpt2'): string => `${task}/${csvNameFor(kind)}`;

/** The files of group `task` a run with tokenizer `kind` reads: that tokenizer's CSV and the shared companions. */
export const taskFilesFor = (task: string, kind: PublishedKind): DataFile[] =>
  DATA_FILES.filter((f) => f.group === task && (f.tokenizer === undefined || f.tokenizer === kind));
