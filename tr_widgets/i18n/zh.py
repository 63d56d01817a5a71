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
}
