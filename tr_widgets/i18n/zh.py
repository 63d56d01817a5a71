"""中文消息：键 -> 模板（``str.format`` 占位符），与 ``en.py`` 的键一一对应。

术语以 d2l-zh（《动手学深度学习》）的 TERMINOLOGY 为准：注意力、查询/键/值、隐状态、遗忘门、掩码、键值缓存。
"""

MESSAGES = {
    "control.previous": "上一步",
    "control.next": "下一步",
    "control.play": "播放",
    "control.pause": "暂停",
    "control.speed": "速度",
    "control.loading": "加载中…",
    "control.of": "{step} / {last}",
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
      在捕获之下运行整个单元格（其中的变量照常保留），并展示记录到的内容。等价于：
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
}
