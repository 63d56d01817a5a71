"""中文消息：键 -> 模板（``str.format`` 占位符），与 ``en.py`` 的键一一对应。

术语以 d2l-zh（《动手学深度学习》）的 TERMINOLOGY 为准：注意力、查询/键/值、隐状态、遗忘门、掩码、键值缓存。

本模块存放控件、画布、视图与魔法命令的消息，并合并步进器的消息（``zh_steppers.py``）：``MESSAGES`` 是唯一的中文目录。
"""
from . import zh_steppers

MESSAGES = {
    "control.previous": "上一步",
    "control.next": "下一步",
    "control.play": "播放",
    "control.pause": "暂停",
    "control.speed": "速度",
    "control.loading": "加载中…",
    "control.steps_per_s": "每秒 {n} 步",
    "control.readout": "{name} {step}（{first}–{last}）",
    "control.readout_symbol": "{name} = {step}（{first}–{last}）",
    "control.save": "保存图片",
    "control.save_short": "保存",
    "control.stepper": "分步查看：{name}",
    "control.keys": "← → 单步 · Home、End：第一步、最后一步 · 空格：播放、暂停",
    # 魔法命令的帮助（%tr_step?）；没有条目的演示和选项保留各自的原文
    "magic.help": """一步一步地看模型计算。每种写法都返回控件：``w = %tr_step ...``。

演示（{demo_names}）；``%tr_step 名称 --help`` 列出某个演示的选项。每个“等价于”代码块都是
``import torch, tr_widgets`` 之后可以直接运行的 Python：

{demo_docs}

  %tr_step 表达式
      在你的命名空间里、在捕获（capture）之下求值“表达式”，并展示记录到的内容：{supported}。
      记录到多个时，步进器上方会出现一个按名称选择的下拉框。表达式也可以是之前得到的轨迹或捕获
      （``%tr_step tr``）。等价于：
        with tr_widgets.capture(scope=globals()) as rec:
            表达式
        tr_widgets.show(rec.traces[0][1] if len(rec.traces) == 1 else rec)   # 多个：按名称选择

  %tr_step grad 模块 X [--hx HX] [--loss LOSS]
      让你自己的 nn.RNN / nn.LSTM / nn.GRU 反向运行：每个时间步的 dL/dh_t；LOSS 是模块输出的函数
      （默认 ``{grad_loss}``）。等价于：
        {grad_code}

  %%tr_step
  代码
      在捕获之下运行整个单元格（其中的变量照常保留），并展示记录到的内容。直接写在单元格里的循环
      （每步一次 h = f(h, x)，不用模块）也会被记录，成为一个 LoopTrace。等价于：
        with tr_widgets.capture(scope=globals()) as rec:
            代码
        tr_widgets.show(rec.traces[0][1] if len(rec.traces) == 1 else rec)

出错时：未知的演示、错误的选项值或什么都没记录到，会抛出一行的 UsageError（错误信息保持英文，便于搜索）；
表达式或代码自身的错误（比如 NameError）照原样抛出。
""",
    "magic.stands_for": "等价于：",
    "magic.default": "默认：{value}",
    "magic.demo.lstm": "长短期记忆网络（LSTM）：每个时间步的输入门 i、遗忘门 f、候选记忆元 g、输出门 o、记忆元和隐状态",
    "magic.demo.gru": "门控循环单元（GRU）：每个时间步的重置门 r、更新门 z、候选隐状态 n 和隐状态",
    "magic.demo.rnn": "Elman 循环神经网络：每个时间步 h_t = tanh(W_ih x_t + b_ih + W_hh h_(t-1) + b_hh)",
    "magic.demo.attention": "少量词元上的缩放点积注意力，一次一个查询（随机的查询、键、值）",
    "magic.demo.decode": "随包附带的微型 GPT 续写提示，每个时钟周期生成一个词元，键值缓存的增长一目了然",
    "magic.option.--input": "输入序列，每个时间步一个数（输入维度为 1）",
    "magic.option.--hidden": "隐藏单元数（1..256）",
    "magic.option.--layers": "堆叠的层数（1..4）",
    "magic.option.--bidirectional": "同时反向运行序列（双向）",
    "magic.option.--backward": "让时钟倒着走：每个时间步的 dL/dh_t（通过时间反向传播）",
    "magic.option.--seed": "torch.manual_seed（权重，或查询、键、值；配合 --sample 时为采样）",
    "magic.option.--nonlinearity": "tanh 或 relu",
    "magic.option.--tokens": "词元（1..64 个）",
    "magic.option.--dim": "每个头的查询、键、值的维度（1..64）",
    "magic.option.--heads": "注意力头数（1..8）",
    "magic.option.--causal": "每个查询只看到自己和更早的词元（因果掩码）",
    "magic.option.--prompt": "要续写的文本（微型模型认识的词）",
    "magic.option.--new-tokens": "要生成的词元数，每个时钟周期一个（1..32）",
    "magic.option.--no-cache": "每个时钟周期都重新计算所有位置（不用键值缓存）",
    "magic.option.--sample": "按概率抽取每个词元，而不是取概率最大的那个",
    # 矩阵画布（static/matrix.js）：“matrix.” 下的键作为一个字典传给浏览器
    "matrix.hover": "把鼠标停在单元格上查看它的值",
    "matrix.diverging": "红色为正（+），蓝色为负（−）",
    "matrix.sequential": "越亮越大",
    "matrix.masked": "已掩码",
    "matrix.nonfinite": "NaN/inf（非有限值）",
    "matrix.approx": "≈",
    "matrix.bar": "颜色条",
    "matrix.units": "单位",
    # 条形图（static/bars.js）：“bars.” 下的键传给浏览器，{占位符} 在那里填入
    "bars.signs": "红色：正 · 蓝色：负",
    "bars.mark": "红色边框：当前步",
    "bars.highlight": "橙色虚线：最大的权重",
    "bars.blocked": "灰色斜线：被掩码",
    "bars.hint": "把鼠标停在条形上：显示它的下标和值",
    "bars.hover": "{name} [{i}]（0–{last}）= {value}",
    "bars.shared": "与“{group}”共用刻度",
    "bars.nonfinite": "NaN 或 inf（非有限值）",
    # 画布在 Python 里写的字（快照、默认的坐标轴名称）
    "canvas.row": "行",
    "canvas.col": "列",
    "canvas.empty": "{title}：（空）",
    "canvas.overview_alt": "{title}的概览",
    # 视图：概览与长坐标轴的窗口
    "view.overview_whole": "概览：完整的 {rows}×{cols} 矩阵，未缩小",
    "view.overview_reduced": "概览：{rows}×{cols} 按 {fr}×{fc} 的块做最大池化，缩小为 {out_rows}×{out_cols}（每块保留 |值| 最大者）",
    "view.overview_filling": "正在计算概览：已完成 {pct}% 的行（{rows} 行，共 {total} 行），其间可照常单步 · {notice}",
    "view.range_note": "{axis} {first}–{last}（共 0–{full_last}）",
    "notes.title": "注意",
    # 计数：“<键>.one” 用于 n == 1，“<键>.many” 用于其他情况（markup.counted）
    "count.step.one": "{n} 个时间步",
    "count.step.many": "{n} 个时间步",
    "count.masked_key.one": "{n} 个被掩码的键",
    "count.masked_key.many": "{n} 个被掩码的键",
    # 方程表（循环与梯度步进器）
    "equations.unit": "单元 {j}",
    "equations.equation": "公式（torch）",
    # 循环神经网络步进器
    "recurrent.forward": "正向",
    "recurrent.reverse": "反向",
    "recurrent.graph_aria": "展开的计算图，到第 {t} 步为止",
    "recurrent.graph_earlier": "更早",
    "recurrent.graph_later": "更晚",
    "recurrent.graph_caption": "展开的计算图：每个时间步一个节点 {state}，边为 hₜ₋₁→hₜ 和 xₜ→hₜ；目前已算出 {steps}（{first}–{last}，共 0–{total_last}），节点下方是 ‖h‖",
    # 注意力：o_i 表及其核对
    "attention.col_key": "键 j",
    "attention.col_token": "词元",
    "attention.other.one": "其余一项",
    "attention.other.many": "其余 {n} 项之和",
    "attention.other_masked": "（{keys}：w_ij = 0）",
    "attention.ref_sdpa": "torch SDPA，第 {i} 行",
    "attention.ref_scan": "扫描自身的输出，第 {i} 行",
    "attention.sum_no_softmax": "没有 softmax：各行之和不必为 1（Σ_j w_ij = {sum}）；之后的键的权重为 {later}",
    "attention.sum_all_masked": "所有键都被掩码：权重全为 0（Σ_j w_ij = {sum}），与 SDPA 的做法一致",
    "attention.sum": "Σ_j w_ij = {sum}（与 1 之差 |1 − Σ| = {gap}）",
    "attention.check_sdpa": "最大 |o_i − SDPA_i| = {diff}（容差 {tol}）",
    "attention.top_none": "没有未被掩码的键",
    "attention.top.one": "最大的权重",
    "attention.top.many": "最大的 {n} 个权重",
    "attention.output_title": "o_{i} = Σ_j w_ij v_j：{which}",
    # 解码：文本面板与逐词元条带
    "decode.earlier_tokens.one": "… 更早的 {n} 个词元",
    "decode.earlier_tokens.many": "… 更早的 {n} 个词元",
    "decode.candidate": "候选词元",
    "decode.text_title": "第 {tick} 拍：模型读入位置 0–{last}，写出一个词元",
    "decode.key_title": "位置 {pos}：{kind}",
    "decode.kind_appended": "新追加",
    "decode.kind_reused": "复用",
    "decode.kind_recomputed": "重新计算",
    "decode.strip_earlier": "… 更早的 {n} 个",
    "decode.strip_legend": "细边框：从缓存复用 · 橙色边框：这一拍新追加 · 底色深浅：头 {head} 的注意力权重",
    "decode.strip_legend_no_cache": "没有缓存：每个位置都重新计算 · 橙色：查询自己的位置 · 底色深浅：头 {head} 的注意力权重",
    # 梯度（views.gradients）：str.format 模板里的花括号要写两遍
    "gradients.factor_gru": "z_t 更新门（泄漏 h_{{t-1}} → h_t）",
    "gradients.factor_lstm": "f_t 遗忘门",
    "gradients.eq_dh": "δh_t = δh_t(直接) + δh_t(来自前一步)",
    "gradients.eq_dc": "δc_t = f_{{t+1}} ⊙ δc_{{t+1}} + δc_t(经由 h_t)",
    "gradients.eq_leak": "泄漏：z_t ⊙ δh_t",
    "gradients.dh_direct": "δh_t 直接（来自损失 / 上一层）",
    "gradients.dh_from_next": "δh_t 来自 t+1",
    "gradients.dh_arriving": "δh_t = ∂L/∂h_t 到达",
    "gradients.da_lstm": "i、f、g、o 的 δa_t（W_hhᵀ 所乘的向量）",
    "gradients.da_gru": "r、z、n 的 δ(W_hh h + b_hh)",
    "gradients.dh_leaving_lstm": "δh_{{t-1}} ← W_hhᵀ δa_t 离开",
    "gradients.dh_leaving": "δh_{{t-1}} 离开",
    "gradients.dc_via_c": "δc_t 经由 c（f_{{t+1}} ⊙ δc_{{t+1}}）",
    "gradients.dc_via_h": "δc_t 经由 h_t",
    "gradients.dc_arriving": "δc_t = ∂L/∂c_t 到达",
    "gradients.dc_leaving": "δc_{{t-1}} ← f_t ⊙ δc_t 离开",
    # 状态空间模型 / 线性注意力混合层（views.state）
    "state.axis_channel_inner": "通道（d_inner）",
    "state.axis_head_row": "头内的行 p（head_dim）",
    "state.axis_state_n": "状态维 n",
    "state.axis_key_dim": "键的维度（d_k）",
    "state.axis_value_dim": "值的维度（d_v）",
    "state.axis_channel": "通道（hidden）",
    "state.axis_conv_window": "卷积窗口（最近 K 个输入 B·x，最旧在前）",
    "state.window_note": "，{first}–{last}（共 {n} 个）",
    "state.over_heads": "遍历各头",
    "state.over_channels": "遍历各通道",
    "state.over_dim": "遍历维度 {dim}",
    "state.head": "头 {h}",
    "state.channel": "通道 {c}",
    "state.sep": "，",
    "state.output": "输出",
    "state.output_note": "混合层在 t = {t} 的输出",
    "state.cross_from": "；从 t = {t} 起，键值缓存超过状态",
    "state.cross_never": "；在这 {T} 个词元之内，键值缓存始终小于状态",
    "state.memory_caption": "位置 t = {t} 之后：状态 {state}（不变，trace.state_bytes）· 键值缓存 {kv} = 2（K、V）× {positions} 个位置 × d_model {d_model} × 批量 {batch} × {itemsize} B（{dtype}）；假设：一个注意力层，头数 × head_dim = d_model = 混合层的宽度，不分组共享键{cross}",
    # 步进器上方选择器的名称（controller.py；没有条目的名称按原样显示）
    "selector.layer": "层",
    "selector.direction": "方向",
    "selector.batch": "批量",
    "selector.head": "头",
    "selector.channel": "通道",
    "count.key.one": "{n} 个键",
    "count.key.many": "{n} 个键",
    "count.point.one": "{n} 个点",
    "count.point.many": "{n} 个点",
    "matrix.not_yet": "尚未计算（仍在填充中）",
    **zh_steppers.MESSAGES,  # 步进器的消息（widgets/），单独成一个模块
}
