"""Write tr_widgets/models/corpus_zh.txt: the Chinese tiny model's training text, from templates.

The corpus is written for this repository and dedicated to the public domain (CC0 1.0). Like the
English one (scripts/make_corpus.py) it is a deterministic mix of simple sentences and short stories
about animals, children, clocks and time steps, in plain Chinese without spaces. Each animal has a
clear favourite place (猫坐在垫子上 far more often than anywhere else, 狗跑到公园里), so the
character-level model continues "猫坐在" with "垫子上。" for a reason a reader can check: it is the
most frequent continuation in the text, and to find it the model must look back past "坐在" to "猫".
The clock lines count hours and steps in order (第三步之后是第四步), which gives attention something
to copy.

Usage:  python scripts/make_corpus_zh.py            (rewrites the file; same bytes every run)
        python scripts/make_corpus_zh.py --check    (exit 1 if the committed file differs)
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the English script's draws and main
import make_corpus as english  # noqa: E402
from make_corpus import Draws  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "tr_widgets" / "models" / "corpus_zh.txt"
SEED = 1234
N_LINES = 1800

HEADER = """\
# tr_widgets 中文小模型语料。Written for the tr_widgets repository by scripts/make_corpus_zh.py
# (deterministic templates, seed 1234). Public domain: CC0 1.0, no rights reserved.
# Lines starting with '#' are comments and are not training text.
"""

# Each animal: classifier, how it gets somewhere, where it sits (weights), where it goes (weights),
# food, sound, home. The first entry of each weighted table is its clear favourite (>= 3x the next).
ANIMALS = {
    "猫": dict(cl="只", move="跑到", sit={"垫子上": 9, "地毯上": 2, "床上": 2, "椅子上": 1},
              go={"屋里": 6, "花园里": 2, "门口": 2}, food=["鱼", "牛奶"], sound="喵喵", home="房子里"),
    "狗": dict(cl="条", move="跑到", sit={"地毯上": 9, "垫子上": 2, "草地上": 2, "台阶上": 1},
              go={"公园里": 9, "大门口": 2, "门口": 2}, food=["骨头", "肉"], sound="汪汪", home="房子里"),
    "鸟": dict(cl="只", move="飞到", sit={"树枝上": 9, "屋顶上": 2, "篱笆上": 2},
              go={"树上": 9, "窝里": 2, "屋顶上": 1}, food=["种子", "虫子"], sound="叽叽", home="窝里"),
    "鸭子": dict(cl="只", move="游到", sit={"木头上": 6, "草地上": 2, "石头上": 1},
               go={"池塘里": 9, "河里": 2}, food=["面包", "虫子"], sound="嘎嘎", home="池塘边"),
    "青蛙": dict(cl="只", move="跳到", sit={"荷叶上": 9, "石头上": 2, "木头上": 2},
               go={"池塘里": 9, "河边": 2}, food=["虫子", "苍蝇"], sound="呱呱", home="池塘边"),
    "牛": dict(cl="头", move="走到", sit={"草地上": 9, "干草上": 2},
              go={"田里": 9, "牛棚里": 3}, food=["青草", "干草"], sound="哞哞", home="牛棚里"),
    "猪": dict(cl="头", move="跑到", sit={"干草上": 9, "草地上": 2},
              go={"猪圈里": 6, "农场里": 2, "田里": 1}, food=["苹果", "玉米"], sound="哼哼", home="猪圈里"),
    "鸡": dict(cl="只", move="跑到", sit={"窝里": 9, "篱笆上": 2, "干草上": 1},
              go={"鸡舍里": 6, "农场里": 2}, food=["玉米", "种子"], sound="咯咯", home="鸡舍里"),
    "老鼠": dict(cl="只", move="跑到", sit={"盒子里": 9, "台阶上": 2, "椅子上": 1},
               go={"洞里": 9, "屋里": 2}, food=["奶酪", "面包"], sound="吱吱", home="洞里"),
    "马": dict(cl="匹", move="跑到", sit={"草地上": 6, "干草上": 3},
              go={"马棚里": 6, "田里": 3}, food=["干草", "胡萝卜"], sound="咴咴", home="马棚里"),
    "狐狸": dict(cl="只", move="跑到", sit={"石头上": 9, "木头上": 2},
               go={"树林里": 9, "山上": 2}, food=["鸡蛋", "浆果"], sound="嗷嗷", home="树林里"),
    "熊": dict(cl="头", move="走到", sit={"石头上": 9, "木头上": 2},
              go={"树林里": 6, "山洞里": 3, "河边": 1}, food=["蜂蜜", "浆果"], sound="吼吼", home="山洞里"),
}
# 猫 and 狗 are the stars of the tutorials: they appear three times as often as the others.
ANIMAL_WEIGHT = {a: (3 if a in ("猫", "狗") else 1) for a in ANIMALS}
NAMES = ["小明", "小红", "小华", "小丽", "小刚", "小文", "小云", "小光"]
THINGS = {"球": "个", "风筝": "只", "帽子": "顶", "书": "本", "杯子": "个", "小船": "条", "鼓": "面", "车": "辆"}
COLORS = ["红色", "蓝色", "绿色", "黄色", "白色", "黑色"]
ADJS = ["大", "小", "高兴", "困", "饿", "快", "慢", "胖", "乖", "可爱", "聪明", "安静"]
STORY_ADJS = ["大", "小", "胖", "可爱的", "聪明的", "安静的"]  # before a noun: 一只可爱的猫
FEEL = ["高兴", "困", "饿", "难过", "累", "开心"]
PEOPLE_SIT = {"椅子上": 6, "床上": 2, "长凳上": 2, "草地上": 1}
PEOPLE_GO = {"公园": 4, "学校": 4, "商店": 2, "农场": 1, "池塘边": 1}
DIGITS = "一二三四五六七八九十"
HOURS = [*DIGITS, "十一", "十二"]  # 一 .. 十二: the clock face


class Writer(Draws):
    """Template sentences of the Chinese corpus (the seeded draws are the English script's)."""

    def __init__(self, seed: int):
        super().__init__(seed, ANIMAL_WEIGHT)

    # single sentences about one animal; `who` is how the sentence names it ("猫", "小猫", "有一天，猫")
    def animal_sentence(self, a: str, who: str | None = None, story: bool = False) -> str:
        info, who = ANIMALS[a], who or a
        kinds, weights = ["sit", "go", "eat", "say", "is"], [4, 4, 2, 2, 2]
        if story:  # inside a story the feeling comes at the end
            kinds, weights = kinds[:-1], weights[:-1]
        kind = self.r.choices(kinds, weights=weights)[0]
        if kind == "sit":
            return f"{who}坐在{self.pick(info['sit'])}。"
        if kind == "go":
            return f"{who}{info['move']}{self.pick(info['go'])}。"
        if kind == "eat":
            return f"{who}喜欢吃{self.pick(info['food'])}。"
        if kind == "say":
            return f"{who}{info['sound']}地叫。"
        return f"{who}很{self.pick(ADJS)}。"

    def two_animals(self) -> str:
        a = self.animal()
        b = self.animal(other_than=a)
        kind = self.r.randrange(3)
        if kind == 0:
            return f"{a}看见了一{ANIMALS[b]['cl']}{b}。{b}{ANIMALS[b]['sound']}地叫。"
        if kind == 1:
            return f"{a}和{b}是好朋友。"
        return f"{a}追着{b}跑。{b}{ANIMALS[b]['move']}{self.pick(ANIMALS[b]['go'])}。"

    def gift(self) -> str:
        n, m = self.r.sample(NAMES, 2)
        c, t = self.pick(COLORS), self.pick(list(THINGS))
        end = self.r.choice([f"{m}说谢谢。", f"{m}很{self.pick(['高兴', '开心'])}。", f"{m}对{n}说谢谢。"])
        return f"{n}有一{THINGS[t]}{c}的{t}。{n}把{c}的{t}给了{m}。{end}"

    def people(self) -> str:
        n, m = self.r.sample(NAMES, 2)
        kind = self.r.randrange(4)
        if kind == 0:
            return f"{n}坐在{self.pick(PEOPLE_SIT)}。"
        if kind == 1:
            return f"{n}和{m}去{self.pick(PEOPLE_GO)}。"
        if kind == 2:
            return f"{n}喜欢{self.animal()}。"
        return f"{n}很{self.pick(FEEL)}。"

    def story(self) -> str:
        a = self.animal()
        info, small = ANIMALS[a], "小" + a if len(a) == 1 else a
        s = [f"从前有一{info['cl']}{self.pick(STORY_ADJS)}{a}。" if self.r.random() < 0.5 else f"从前有一{info['cl']}{small}。",
             f"{small}住在{info['home']}。"]
        for _ in range(self.r.randint(1, 3)):
            s.append(self.animal_sentence(a, who=self.r.choice([small, f"有一天，{small}", f"后来{small}"]), story=True))
        s.append(f"{small}很{self.pick(FEEL)}。")
        return "".join(s)

    def pet(self) -> str:
        n, a = self.pick(NAMES), self.animal()
        info = ANIMALS[a]
        return (f"{n}养了一{info['cl']}{a}。{a}很{self.pick(ADJS)}。每天{a}都坐在{self.pick(info['sit'])}。"
                f"{n}给{a}吃{self.pick(info['food'])}。")

    def clock(self) -> str:
        """The clock: hours and time steps in order, so a model can learn what comes next."""
        kind = self.r.randrange(5)
        if kind == 0:
            h = self.r.randrange(len(HOURS))
            return f"钟敲了{HOURS[h]}下。现在是{HOURS[h]}点。"
        if kind == 1:
            h = self.r.randrange(len(HOURS) - 1)
            return f"{self.pick(NAMES)}看了看钟。现在是{HOURS[h]}点，下一个钟头是{HOURS[h + 1]}点。"
        if kind == 2:
            t = self.r.randrange(len(DIGITS) - 1)
            return f"第{DIGITS[t]}步之后是第{DIGITS[t + 1]}步。"
        if kind == 3:
            start = self.r.randrange(4)
            n = self.r.randint(3, len(DIGITS) - start)
            return "钟滴答滴答地走：" + "、".join(DIGITS[start:start + n]) + "。"
        a = self.animal()
        t = self.r.randrange(len(DIGITS) - 1)
        return (f"每一步，时钟向前走一格。第{DIGITS[t]}步，{a}{ANIMALS[a]['move']}{self.pick(ANIMALS[a]['go'])}。"
                f"第{DIGITS[t + 1]}步，{a}坐在{self.pick(ANIMALS[a]['sit'])}。")

    def line(self) -> str:
        kind = self.r.choices(["animal", "two", "gift", "people", "story", "pet", "clock"],
                              weights=[8, 2, 2, 2, 4, 2, 3])[0]
        if kind == "animal":
            return self.animal_sentence(self.animal())
        return getattr(self, {"two": "two_animals"}.get(kind, kind))()


def make_corpus(seed: int = SEED, n_lines: int = N_LINES) -> str:
    w = Writer(seed)
    return HEADER + "".join(w.line() + "\n" for _ in range(n_lines))


def chinese_summary(body: list[str]) -> str:
    return (f"{sum(ln.count('。') for ln in body)} sentences, {sum(map(len, body))} characters, "
            f"{len(set(''.join(body)))} distinct")


def main(argv=None) -> int:
    """Write corpus_zh.txt, or check it (--check): the English script's main on this corpus."""
    return english.main(argv, make=make_corpus, out=OUT, summary=chinese_summary, doc=__doc__)


if __name__ == "__main__":
    sys.exit(main())
