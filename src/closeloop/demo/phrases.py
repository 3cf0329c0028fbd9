"""Hand-written phrase templates for the demo data of the fictional brand 知屿 / Zhiyu.

Every sentence here was written for closeloop; none is taken from a review corpus. Placeholders:
``{p}`` short product name, ``{n}`` small count (2–5), ``{d}`` days (3–16), ``{dd}`` delivery days
(6–16), ``{h}`` hours, ``{m}`` yuan, ``{c}`` courier, ``{city}`` sorting hub, ``{v}`` app version.
``generate.py`` combines the parts (opener + aspect sentences + closer + redress ask + emoji) so texts
are rarely near-identical.

Damage words (破损 压坏 压扁 压塌 漏液 碎 crushed dented leak smashed shattered) appear only in negative
packaging phrases, so dashboards and tests can find the planted packaging story from the text alone.
"""

from __future__ import annotations

from dataclasses import dataclass

BRAND_ZH = "知屿"
BRAND_EN = "Zhiyu"


@dataclass(frozen=True, slots=True)
class Product:
    """One SKU of the demo catalogue, with what buyers praise and blame in it (zh and en)."""

    sku: str
    name_zh: str
    name_en: str
    short_zh: str
    short_en: str
    category: str  # electronics | home
    price: float
    popularity: float
    traits: tuple[str, ...]  # battery, noise, app, fragile, liquid
    good_zh: tuple[str, ...]
    bad_zh: tuple[str, ...]
    good_en: tuple[str, ...]
    bad_en: tuple[str, ...]


PRODUCTS: tuple[Product, ...] = (
    Product(
        "ZY-SP01",
        "知屿智能音箱 Mini",
        "Zhiyu Smart Speaker Mini",
        "音箱",
        "speaker",
        "electronics",
        199,
        1.0,
        ("app",),
        (
            "音质比想象中好，低音挺足",
            "语音唤醒很灵敏，隔着房间喊也能听到",
            "连蓝牙放歌很方便，孩子天天用它听故事",
            "体积小巧，放在床头刚好",
        ),
        ("经常听不懂指令，说三遍才有反应", "音量开大了有破音", "用了{n}天就频繁断网", "闹钟功能时灵时不灵"),
        (
            "the sound is fuller than I expected for the size",
            "the wake word picks me up from across the room",
            "pairing over Bluetooth took seconds",
            "a great little speaker for the bedside table",
        ),
        (
            "it keeps mishearing commands, I have to repeat myself three times",
            "it distorts at high volume",
            "it drops off Wi-Fi every couple of days",
            "alarms sometimes just don't go off",
        ),
    ),
    Product(
        "ZY-EB02",
        "知屿降噪蓝牙耳机 Pro",
        "Zhiyu ANC Earbuds Pro",
        "耳机",
        "earbuds",
        "electronics",
        499,
        1.3,
        ("battery", "app"),
        (
            "降噪效果很明显，地铁上基本听不到噪音",
            "佩戴舒适，戴一下午耳朵不疼",
            "通话清晰，对方说听得很清楚",
            "连接稳定，开盖就连上",
        ),
        ("左耳经常断连", "降噪开了有明显的底噪", "戴久了耳朵胀痛", "充电仓盖子松松垮垮"),
        (
            "noise cancelling really works on the subway",
            "comfortable enough to wear all afternoon",
            "callers say I sound clear",
            "they connect the moment I open the case",
        ),
        (
            "the left bud keeps disconnecting",
            "there is a hiss when noise cancelling is on",
            "my ears ache after an hour",
            "the case lid feels loose and cheap",
        ),
    ),
    Product(
        "ZY-RV03",
        "知屿扫地机器人 R3",
        "Zhiyu Robot Vacuum R3",
        "扫地机",
        "robot vacuum",
        "electronics",
        1699,
        1.1,
        ("battery", "noise", "app"),
        (
            "扫得很干净，床底下的灰都吸出来了",
            "路径规划很聪明，不会乱撞",
            "拖地功能也不错，地板亮了",
            "定时清扫太省心了，下班回家地已经干净了",
        ),
        ("经常卡在椅子腿中间出不来", "回充找不到底座", "边刷容易缠头发", "地图老是丢失，要重新建图"),
        (
            "it picks up far more dust than I expected, even under the bed",
            "navigation is smart, it rarely bumps into things",
            "the mopping mode leaves the floor shiny",
            "scheduled cleaning means I come home to clean floors",
        ),
        (
            "it gets stuck between chair legs every single day",
            "it can't find its way back to the dock",
            "the side brush keeps tangling with hair",
            "it keeps losing the map and has to remap",
        ),
    ),
    Product(
        "ZY-LP04",
        "知屿护眼台灯",
        "Zhiyu Eye-Care Desk Lamp",
        "台灯",
        "desk lamp",
        "electronics",
        259,
        0.9,
        ("app",),
        (
            "光线柔和不刺眼，晚上看书很舒服",
            "亮度和色温都可以调，孩子写作业正好",
            "无频闪，拍照也看不到条纹",
            "做工扎实，底座很稳",
        ),
        (
            "灯头的关节有点松，调好角度会慢慢掉下来",
            "最低档还是太亮",
            "触摸按键不灵敏",
            "用了{n}周就有一颗灯珠不亮了",
        ),
        (
            "soft light, easy on the eyes for late reading",
            "brightness and colour temperature both adjust, perfect for homework",
            "no flicker at all",
            "solid build and a heavy base",
        ),
        (
            "the arm joint is loose and droops",
            "even the lowest setting is too bright",
            "the touch buttons barely respond",
            "one LED died after {n} weeks",
        ),
    ),
    Product(
        "ZY-PB05",
        "知屿20000mAh充电宝",
        "Zhiyu 20000mAh Power Bank",
        "充电宝",
        "power bank",
        "electronics",
        149,
        1.2,
        ("battery",),
        ("容量很足，手机能充{n}次", "支持快充，半小时充到一半多", "出差带着很安心", "可以同时充两台设备"),
        ("充电的时候发烫很厉害", "标称20000，实际感觉就一半", "自己充满要一整晚", "比想象中重很多"),
        (
            "it charges my phone {n} times over",
            "fast charging gets me to half in thirty minutes",
            "a lifesaver on business trips",
            "it charges two devices at once",
        ),
        (
            "it gets really hot while charging",
            "it feels like half the advertised capacity",
            "it takes all night to recharge itself",
            "much heavier than I expected",
        ),
    ),
    Product(
        "ZY-SW06",
        "知屿智能手表 S2",
        "Zhiyu Smartwatch S2",
        "手表",
        "watch",
        "electronics",
        799,
        1.0,
        ("battery", "app"),
        ("心率和睡眠监测挺准的", "续航一周没问题", "表盘好看，戴着显档次", "运动模式很多，跑步记录很详细"),
        ("步数明显不准，坐车也算步数", "消息提醒经常延迟", "表带戴久了手腕过敏", "屏幕在太阳底下看不清"),
        (
            "heart rate and sleep tracking seem accurate",
            "the battery easily lasts a week",
            "it looks classy on the wrist",
            "lots of workout modes and detailed running stats",
        ),
        (
            "the step count is way off, it counts steps while I'm on the bus",
            "notifications arrive late",
            "the strap gave me a rash",
            "the screen is unreadable in sunlight",
        ),
    ),
    Product(
        "ZY-KB07",
        "知屿无线键鼠套装",
        "Zhiyu Wireless Keyboard & Mouse Set",
        "键鼠",
        "keyboard set",
        "electronics",
        169,
        0.7,
        ("battery",),
        ("打字手感很好，声音也不大", "鼠标握感舒服", "接收器即插即用", "电池很耐用，用了几个月还没换"),
        ("鼠标偶尔会卡顿、跳帧", "键盘有几个键要按很重才有反应", "接收器距离远一点就断", "空格键有杂音"),
        (
            "the keys feel great and are quiet",
            "the mouse is comfortable in the hand",
            "the receiver is truly plug and play",
            "the batteries have lasted months",
        ),
        (
            "the mouse stutters now and then",
            "some keys need a hard press to register",
            "it loses connection if I move a bit away",
            "the space bar rattles",
        ),
    ),
    Product(
        "ZY-AF08",
        "知屿空气炸锅 5L",
        "Zhiyu Air Fryer 5L",
        "空气炸锅",
        "air fryer",
        "home",
        329,
        1.4,
        ("noise",),
        (
            "炸鸡翅外酥里嫩，全家都爱吃",
            "不放油也很香，比油炸健康多了",
            "5L容量一家三口刚好",
            "内胆好清洗，不粘",
        ),
        ("用了{n}周涂层开始掉", "第一次用有很重的塑料味", "温度不准，经常烤糊", "定时旋钮不太灵"),
        (
            "chicken wings come out crispy outside and juicy inside",
            "tasty with hardly any oil",
            "5L is just right for a family of three",
            "the basket is non-stick and easy to clean",
        ),
        (
            "the coating started peeling after {n} weeks",
            "a strong plastic smell the first few uses",
            "the temperature is off and things burn",
            "the timer knob is unreliable",
        ),
    ),
    Product(
        "ZY-HM09",
        "知屿香薰加湿器",
        "Zhiyu Aroma Humidifier",
        "加湿器",
        "humidifier",
        "home",
        229,
        1.0,
        ("noise", "app"),
        ("雾量很足，房间不干了", "夜灯很温馨，睡觉开着刚好", "加水很方便，水箱大", "香薰味道淡淡的很舒服"),
        ("用了几天底部有水渍", "水箱不好清洗，容易有水垢", "雾量调到最大也很小", "自动断电经常失灵"),
        (
            "strong mist output, the room isn't dry any more",
            "the night light is cosy",
            "easy to refill, big tank",
            "a gentle scent, very relaxing",
        ),
        (
            "a puddle forms under it after a few days",
            "the tank is hard to clean and scales up",
            "the mist is weak even on max",
            "the auto shut-off doesn't always work",
        ),
    ),
    Product(
        "ZY-KT10",
        "知屿玻璃电热水壶",
        "Zhiyu Glass Electric Kettle",
        "水壶",
        "kettle",
        "home",
        139,
        1.1,
        ("fragile", "glass"),
        ("烧水很快，三五分钟就开了", "玻璃壶身看得见水，很干净", "有保温功能，泡茶方便", "自动断电很安全"),
        ("烧水的时候声音很大", "用了{n}周底部就有水垢黑点", "把手有点烫", "盖子不太好打开"),
        (
            "it boils in a few minutes",
            "the glass body lets you see the water, it feels clean",
            "the keep-warm mode is great for tea",
            "the auto shut-off gives peace of mind",
        ),
        (
            "very loud when boiling",
            "dark scale spots on the base after {n} weeks",
            "the handle gets hot",
            "the lid is stiff to open",
        ),
    ),
    Product(
        "ZY-CW11",
        "知屿陶瓷餐具套装（16件）",
        "Zhiyu Ceramic Dinnerware Set (16 pcs)",
        "餐具",
        "dinnerware",
        "home",
        269,
        1.0,
        ("fragile", "set"),
        ("釉面光滑，颜值很高", "可以进微波炉和洗碗机，很实用", "碗盘大小合适，一家人够用", "送人也很有面子"),
        ("有{n}个碗底有小黑点", "颜色和图片差别有点大", "盘子边缘有毛刺", "有一个盘子釉面不均匀"),
        (
            "the glaze is smooth and they look beautiful",
            "microwave and dishwasher safe, very practical",
            "the bowls and plates are a good size",
            "it makes a lovely gift",
        ),
        (
            "{n} bowls have small black specks",
            "the colour looks different from the photos",
            "rough edges on a few plates",
            "uneven glaze on one plate",
        ),
    ),
    Product(
        "ZY-PL12",
        "知屿记忆棉枕头",
        "Zhiyu Memory Foam Pillow",
        "枕头",
        "pillow",
        "home",
        159,
        0.9,
        (),
        ("睡了一周颈椎舒服多了", "回弹慢，贴合脖子", "枕套可以拆洗", "没有异味"),
        ("有一股很重的化学味，晾了{n}天还有", "太高了，睡着落枕", "太软了，没有支撑", "枕套起球"),
        (
            "my neck feels much better after a week",
            "slow rebound foam that hugs the neck",
            "a removable, washable cover",
            "no odour at all",
        ),
        (
            "a strong chemical smell even after airing it for {n} days",
            "too high, I woke up with a stiff neck",
            "too soft, no support",
            "the cover pills",
        ),
    ),
    Product(
        "ZY-TW13",
        "知屿纯棉浴巾套装",
        "Zhiyu Cotton Bath Towel Set",
        "浴巾",
        "towels",
        "home",
        119,
        0.8,
        (),
        ("很厚实很柔软，吸水性好", "洗了几次也不掉毛", "颜色很正，不褪色", "大小合适，裹身刚好"),
        ("第一次洗掉了好多毛", "洗完褪色很严重", "比描述的薄很多", "有一股染料味"),
        (
            "thick, soft and absorbent",
            "no lint even after several washes",
            "the colours haven't faded",
            "a generous size",
        ),
        (
            "it shed a lot of lint in the first wash",
            "the colour ran badly",
            "much thinner than described",
            "it smells of dye",
        ),
    ),
    Product(
        "ZY-BL14",
        "知屿便携榨汁杯",
        "Zhiyu Portable Blender",
        "榨汁杯",
        "blender",
        "home",
        99,
        0.9,
        ("battery",),
        (
            "小巧方便，上班带着榨果汁",
            "充一次电能用{n}次",
            "刀头很锋利，冰块也能打得很细",
            "清洗简单，冲一冲就好",
        ),
        ("打不动硬一点的水果", "杯盖密封不好，放包里洒了出来", "充电口接触不良", "电机声音很吵"),
        (
            "small enough to take to work",
            "one charge lasts {n} smoothies",
            "the blades handle ice with ease",
            "rinse it and it's clean",
        ),
        (
            "it can't handle harder fruit",
            "the lid doesn't seal, it spilled in my bag",
            "the charging port is flaky",
            "the motor is very loud",
        ),
    ),
    Product(
        "ZY-DF15",
        "知屿除螨仪",
        "Zhiyu Dust Mite Vacuum",
        "除螨仪",
        "mite vacuum",
        "home",
        299,
        0.7,
        ("noise",),
        ("吸力很强，尘盒里倒出好多灰", "紫外线杀菌很放心", "床垫沙发都能用", "机身轻，单手就能拿"),
        ("声音太大了，像拖拉机", "尘盒太小，要经常倒", "线太短，不方便", "用了{n}次吸力就变小了"),
        (
            "strong suction, the bin fills up fast",
            "the UV light is reassuring",
            "works on mattresses and sofas",
            "light enough for one hand",
        ),
        (
            "loud as a tractor",
            "the dust bin is tiny",
            "the cord is too short",
            "suction dropped after {n} uses",
        ),
    ),
    Product(
        "ZY-DS16",
        "知屿香氛洗手液套装",
        "Zhiyu Scented Hand Soap Set",
        "洗手液",
        "hand soap",
        "home",
        89,
        1.0,
        ("liquid",),
        (
            "味道很高级，洗完手留香很久",
            "泡沫细腻，不干手",
            "瓶子颜值高，放在洗手台很好看",
            "三种香味都很喜欢",
        ),
        ("香味太浓了，有点刺鼻", "按压泵头不太好用", "洗完手有点干", "量比想象中少"),
        (
            "a lovely scent that lingers",
            "rich lather that doesn't dry out my hands",
            "pretty bottles that look great by the sink",
            "I love all three scents",
        ),
        (
            "the scent is overpowering",
            "the pump is awkward to press",
            "it leaves my hands dry",
            "smaller bottles than I imagined",
        ),
    ),
)

# Aspects a feedback item can talk about, with the labels a dashboard shows.
ASPECT_LABELS: dict[str, tuple[str, str]] = {
    "quality": ("质量", "quality"),
    "performance": ("功能效果", "performance"),
    "appearance": ("外观", "appearance"),
    "price": ("价格", "price"),
    "logistics": ("物流", "delivery"),
    "packaging": ("包装", "packaging"),
    "service": ("客服售后", "customer service"),
    "ease_of_use": ("易用性", "ease of use"),
    "battery": ("续航", "battery"),
    "noise": ("噪音", "noise"),
    "app": ("App", "app"),
}

ASPECT_PHRASES: dict[str, dict[str, dict[str, tuple[str, ...]]]] = {
    "zh": {
        "quality": {
            "positive": (
                "做工很精细，没有毛边",
                "质量不错，用料很扎实",
                "质感很好，拿在手里沉甸甸的",
                "用了{n}个月了，没出过问题",
                "质量对得起这个价格",
                "品质很稳定，比之前买的杂牌强多了",
                "细节处理得很好",
            ),
            "negative": (
                "做工粗糙，接缝处很明显",
                "质量太差了，用了{d}天就坏了",
                "到手就有划痕，像是别人退回来的",
                "塑料感很强，手感廉价",
                "才用了一周就出故障",
                "质量和价格完全不符",
            ),
            "neutral": ("质量中规中矩吧", "质量一般，能用", "做工还可以，没什么惊喜"),
        },
        "appearance": {
            "positive": (
                "颜值很高，放家里很好看",
                "外观简约大气",
                "颜色和图片一模一样，很喜欢",
                "设计很有质感",
                "小巧精致，不占地方",
            ),
            "negative": ("颜色和图片差很多", "实物比图片丑多了", "外观设计有点土", "比想象中大很多，放不下"),
            "neutral": ("外观和图片差不多", "颜色还行"),
        },
        "price": {
            "positive": (
                "价格很实惠，活动价买的超划算",
                "性价比很高",
                "这个价位能买到这样的质量很满意",
                "比实体店便宜了{m}块",
            ),
            "negative": (
                "刚买完就降价了{m}块，心里很不舒服",
                "价格偏贵，不值这个钱",
                "说好的优惠券没用上",
                "申请保价不给退差价",
            ),
            "neutral": ("价格还算合理", "价格一般，等活动买更划算"),
        },
        "logistics": {
            "positive": (
                "物流超快，隔天就到了",
                "{c}送货上门，快递小哥态度很好",
                "下单第二天就收到了",
                "发货速度很快，当天就发了",
            ),
            "negative": (
                "物流太慢了，等了{dd}天才到",
                "物流信息{n}天没更新",
                "快递放驿站也不通知，找了半天",
                "发货太慢，催了几次才发",
                "快递员态度很差，直接丢在门口",
            ),
            "neutral": ("物流速度正常", "快递还行，{n}天到的"),
        },
        "packaging": {
            "positive": (
                "包装很严实，里三层外三层",
                "包装很用心，还有防震泡沫",
                "盒子很精美，送人很合适",
                "包装完好，一点磕碰都没有",
            ),
            "negative": (
                "外包装压坏了",
                "快递箱子都压扁了",
                "包装破损严重，盒子开裂",
                "外箱破损，里面的盒子也压变形了",
                "收到的时候纸箱一角都压塌了",
                "包装太简陋了，连个泡沫都没有",
                "快递盒都湿了，外包装破得不成样子",
            ),
            "neutral": ("包装普通", "就是普通的纸箱包装"),
        },
        "service": {
            "positive": (
                "客服态度特别好，有问必答",
                "客服小姐姐很耐心，帮我解决了问题",
                "售后处理很快，{h}小时就回复了",
                "客服回复及时，很专业",
            ),
            "negative": (
                "客服一直不回消息",
                "客服态度很差，答非所问",
                "售后踢皮球，问了{n}次都没解决",
                "找客服全是机器人自动回复",
                "说好{h}小时内回复，结果{n}天都没人理",
            ),
            "neutral": ("客服回复还算及时", "咨询了一下客服，回答了"),
        },
        "ease_of_use": {
            "positive": (
                "操作很简单，老人也会用",
                "说明书写得清楚，几分钟就上手了",
                "用起来很顺手",
                "安装很方便，自己就搞定了",
            ),
            "negative": (
                "说明书太简单了，看不懂",
                "操作很复杂，摸索了半天",
                "按键设计不合理，经常误触",
                "安装很麻烦，配件还少了一个",
            ),
            "neutral": ("上手需要一点时间", "用法和之前的差不多"),
        },
        "battery": {
            "positive": ("续航很给力，{n}天充一次电", "充电很快", "电池很耐用"),
            "negative": ("续航太短了，半天就没电", "充不进电", "电池掉电很快，用了{n}个月就明显不行了"),
            "neutral": ("续航一般般", "续航跟宣传的差不多"),
        },
        "noise": {
            "positive": ("声音很小，晚上用也不吵", "静音效果不错", "运行很安静"),
            "negative": ("噪音太大了，吵得睡不着", "运行时有嗡嗡的异响", "声音比宣传的大很多"),
            "neutral": ("有一点声音，能接受", "噪音正常"),
        },
        "app": {
            "positive": (
                "App很好用，连接一次就成功",
                "手机上就能控制，很方便",
                "App界面简洁，功能齐全",
                "远程控制很实用",
            ),
            "negative": ("App经常连不上设备", "App老是闪退", "配网失败了好几次", "App更新后反而更难用了"),
            "neutral": ("App功能还行", "App连接需要一点耐心"),
        },
    },
    "en": {
        "quality": {
            "positive": (
                "the build quality is excellent",
                "it feels solid and well made",
                "no issues after {n} months of daily use",
                "the quality is worth the price",
                "nicely finished, no rough edges",
            ),
            "negative": (
                "it feels cheap and flimsy",
                "it stopped working after {d} days",
                "it arrived scratched, looks like a returned unit",
                "the quality doesn't match the price",
                "it broke down within a week",
            ),
            "neutral": ("the quality is okay, nothing special", "decent build for the money"),
        },
        "appearance": {
            "positive": (
                "it looks great in my living room",
                "a clean, minimal design",
                "the colour is exactly like the photos",
                "compact and stylish",
            ),
            "negative": (
                "the colour is nothing like the photos",
                "it looks much cheaper in person",
                "bigger than expected, it barely fits",
            ),
            "neutral": ("it looks like the pictures", "the colour is fine"),
        },
        "price": {
            "positive": (
                "great value for money",
                "got it on sale, a real bargain",
                "hard to beat at this price",
            ),
            "negative": (
                "the price dropped by {m} yuan right after I bought it",
                "overpriced for what it is",
                "the coupon at checkout never applied",
            ),
            "neutral": ("the price is fair", "wait for a sale, it's cheaper then"),
        },
        "logistics": {
            "positive": (
                "delivery was super fast, it came the next day",
                "shipped the same day I ordered",
                "the {c} courier was friendly and brought it to my door",
            ),
            "negative": (
                "delivery took {dd} days",
                "tracking didn't update for {n} days",
                "the courier just left it outside without telling me",
                "it took ages to ship even after I chased it",
            ),
            "neutral": ("delivery was normal", "arrived in {n} days"),
        },
        "packaging": {
            "positive": (
                "well packed with plenty of padding",
                "nice gift box, it made a great present",
                "it arrived in perfect condition, packed really carefully",
            ),
            "negative": (
                "the box arrived crushed",
                "the outer box was badly dented and torn",
                "the packaging was crushed on one corner",
                "flimsy packaging, not even any bubble wrap",
                "the parcel was soaked and the box was crushed",
            ),
            "neutral": ("standard cardboard packaging", "the packaging is plain"),
        },
        "service": {
            "positive": (
                "customer service was quick and helpful",
                "support sorted my issue within {h} hours",
                "the agent was patient and friendly",
            ),
            "negative": (
                "customer service never replied",
                "support keeps sending me canned answers",
                "I've contacted support {n} times and nothing is solved",
                "they promised a reply within {h} hours, it's been {n} days",
            ),
            "neutral": ("support answered my question", "the service was fine"),
        },
        "ease_of_use": {
            "positive": (
                "really easy to set up",
                "the manual is clear, I was up and running in minutes",
                "simple enough for my parents to use",
            ),
            "negative": (
                "the manual is useless",
                "setup was confusing and took forever",
                "the buttons are badly placed, I keep pressing the wrong one",
            ),
            "neutral": ("it takes a little getting used to", "setup was about what I expected"),
        },
        "battery": {
            "positive": (
                "the battery lasts {n} days between charges",
                "charges quickly",
                "great battery life",
            ),
            "negative": (
                "the battery is dead by lunchtime",
                "it won't charge any more",
                "battery life dropped a lot after {n} months",
            ),
            "neutral": ("battery life is average", "battery life is as advertised"),
        },
        "noise": {
            "positive": ("very quiet, I can run it at night", "barely makes a sound"),
            "negative": (
                "it's far too noisy",
                "it makes a weird buzzing sound",
                "much louder than advertised",
            ),
            "neutral": ("a little noise, but acceptable", "normal noise level"),
        },
        "app": {
            "positive": (
                "the app connected first time",
                "I love controlling it from my phone",
                "the app is clean and does everything I need",
            ),
            "negative": (
                "the app keeps losing the device",
                "the app crashes all the time",
                "Wi-Fi pairing failed over and over",
                "the latest app update made things worse",
            ),
            "neutral": ("the app is fine", "the app takes a bit of patience to connect"),
        },
    },
}

# Packaging damage by what breaks: fragile goods shatter, liquids leak. Used by the planted story.
PACKAGING_DAMAGE: dict[str, dict[str, tuple[str, ...]]] = {
    "zh": {
        "any": (
            "外包装压坏了",
            "快递箱子都压扁了",
            "包装破损严重，盒子开裂",
            "外箱破损，里面的盒子也压变形了",
            "收到的时候纸箱一角都压塌了",
            "包装破损，一看就是被重物压过",
        ),
        "fragile": (
            "{p}直接碎了，碎片撒了一箱",
            "箱子里连个泡沫都没有，{p}碎了",
            "{p}磕碎了一块",
        ),
        "glass": (
            "玻璃壶身有裂纹，应该是运输中磕碎的",
            "打开一看壶身碎了，玻璃渣掉了一箱子",
        ),
        "set": (
            "打开一看碗碎了{n}个",
            "{n}个盘子碎了，剩下的也有磕口",
            "一套16件碎了{n}件",
        ),
        "liquid": (
            "漏液了，整个盒子都是黏黏的",
            "瓶子漏液，其他东西都弄脏了",
            "泵头没拧紧，漏液漏了小半瓶",
            "外包装压坏了，瓶身裂开漏液",
        ),
    },
    "en": {
        "any": (
            "the box arrived crushed",
            "the outer box was crushed and torn open",
            "the parcel was badly dented and the inner box squashed",
            "the packaging was damaged, it looks like something heavy sat on it",
        ),
        "fragile": (
            "the {p} arrived smashed",
            "there was no padding at all and the {p} was cracked and smashed",
        ),
        "glass": (
            "the glass jug arrived shattered, glass all over the box",
            "the glass body was cracked and smashed in transit",
        ),
        "set": (
            "{n} plates were smashed when I opened it",
            "{n} bowls arrived smashed and the rest were chipped",
        ),
        "liquid": (
            "one bottle had leaked everywhere, the whole box was sticky",
            "the bottles leaked and soaked everything else",
            "a pump wasn't closed and half a bottle leaked out",
        ),
    },
}

# Before or after the packaging damage, buyers often add that the product itself is fine.
PACKAGING_PRODUCT_OK = {
    "zh": ("东西本身还不错，", "之前买过一次挺好的，这次", "{p}是好东西，可惜", "第三次买了，"),
    "en": (
        "the product itself is fine, but ",
        "I ordered this before and loved it, this time ",
        "nice {p}, shame that ",
    ),
}

LOGISTICS_DELAY = {
    "zh": (
        "{c}的快递{dd}天了还没到",
        "物流信息停在{city}分拣中心{n}天不动了",
        "节前下的单，到现在都没收到",
        "说好的{n}天送达，结果拖了{dd}天",
        "问客服就说快递爆仓，让我再等等",
        "{dd}天了物流还在显示运输中",
    ),
    "en": (
        "ordered before the holiday and it still hasn't arrived after {dd} days",
        "tracking has been stuck at the {city} hub for {n} days",
        "promised delivery in {n} days, it took {dd}",
        "support just says the courier is overloaded and to keep waiting",
    ),
}

APP_LOGIN_BUG = {
    "zh": (
        "更新到{v}之后一直登录不上",
        "验证码收不到，根本登录不了",
        "登录一直转圈，然后提示网络错误",
        "App登录不了，{p}都没法控制了",
        "卸载重装也登录不上",
        "一登录就闪退",
    ),
    "en": (
        "since the {v} update I can't log in",
        "login just spins and then says network error",
        "I never get the verification code, so I can't sign in",
        "locked out of the app, I can't control my {p} at all",
        "reinstalled twice and still can't log in",
    ),
}

OPENERS = {
    "zh": {
        "positive": (
            "第二次回购了，",
            "给爸妈买的，",
            "朋友推荐买的，",
            "纠结了好久终于下单了，",
            "用了一段时间来评价，",
            "活动的时候入手的，",
            "送给女朋友的，",
            "收到货就迫不及待试了，",
            "老客户了，",
        ),
        "negative": (
            "真的很失望，",
            "第一次给差评，",
            "本来挺期待的，",
            "无语了，",
            "太糟心了，",
            "买之前看评价挺好的，",
            "说实话很生气，",
        ),
        "neutral": ("说一下真实感受，", "刚收到，", "客观评价一下，"),
    },
    "en": {
        "positive": (
            "Second time buying this. ",
            "Bought it for my parents. ",
            "A friend recommended it. ",
            "Been using it for a few weeks now. ",
            "Got it in the sale. ",
        ),
        "negative": (
            "Really disappointed. ",
            "I never leave bad reviews, but ",
            "I had high hopes. ",
            "Honestly frustrated. ",
        ),
        "neutral": ("Honest review: ", "Just arrived. ", "Quick update: "),
    },
}

CLOSERS = {
    "zh": {
        "positive": (
            "推荐购买！",
            "会回购的",
            "五星好评！",
            "总体很满意",
            "值得入手",
            "已经推荐给朋友了",
            "好评",
        ),
        "negative": ("不会再买了", "大家慎重购买", "差评！", "非常失望", "希望商家重视一下"),
        "neutral": ("先用着看吧", "用一段时间再来追评", "总体还行"),
    },
    "en": {
        "positive": (
            "Highly recommend!",
            "Would buy again.",
            "Five stars.",
            "Very happy overall.",
            "Worth it.",
        ),
        "negative": ("Won't buy again.", "Avoid.", "Very disappointed.", "Please sort this out."),
        "neutral": ("We'll see how it holds up.", "Will update later.", "It's fine overall."),
    },
}

REDRESS = {
    "zh": (
        "要求退款",
        "我要退货退款",
        "请尽快给我换一个新的",
        "麻烦尽快补发",
        "要求赔偿",
        "再不处理我就去12315投诉了",
        "请给个说法",
        "申请仅退款",
        "我要投诉",
    ),
    "en": (
        "I want a refund.",
        "Please send a replacement.",
        "I'd like to return it for a full refund.",
        "I expect compensation for this.",
        "If this isn't fixed I will file a complaint.",
        "Please refund me as soon as possible.",
    ),
}

EMOJI = {
    "zh": {
        "positive": ("👍", "😊", "❤️", "[赞]", "[哈哈]", "💯"),
        "negative": ("😡", "😤", "[怒]", "[衰]", "🙄", "💔"),
        "neutral": ("[思考]", "🤔"),
    },
    "en": {"positive": ("👍", "😀", "❤️", "🙌"), "negative": ("😠", "👎", "😞"), "neutral": ("🤔",)},
}

# Neutral messages that are not about an aspect: not used yet, questions, default marketplace text.
NOT_USED_YET = {
    "zh": (
        "收到了，还没用，用了再来评价",
        "还没拆开，先给个评价",
        "帮朋友买的，还不知道效果",
        "物流收到了，东西还没试",
    ),
    "en": (
        "Arrived today, haven't tried it yet.",
        "Bought as a gift, can't say yet.",
        "Not unboxed yet, will update.",
    ),
}

QUESTIONS = {
    "zh": (
        "请问{p}保修多久？",
        "发票怎么开？",
        "请问什么时候有活动？",
        "这个和上一代有什么区别？",
        "请问{p}的配件在哪里买？",
        "我的订单能改地址吗？",
        "会员积分怎么用？",
        "请问{p}可以放在卧室用吗？",
    ),
    "en": (
        "How long is the warranty on the {p}?",
        "Can I get an invoice for my order?",
        "Does the {p} work on 110V?",
        "When is the next sale?",
        "Where can I buy spare parts for the {p}?",
        "Can I change the delivery address?",
    ),
}

DEFAULT_REVIEW_ZH = "此用户没有填写评价。"

SUGGESTIONS = {
    "zh": (
        "建议{p}出个大容量版本",
        "希望App能加个定时功能",
        "建议App增加深色模式",
        "能不能出个奶白色的{p}",
        "希望说明书附上视频教程",
        "建议包装再加固一点，玻璃制品多放点泡沫",
        "希望会员积分能抵扣运费",
        "建议客服增加夜间在线时间",
        "希望{p}能接入智能家居平台联动",
        "建议出个旅行收纳包",
        "能不能提供以旧换新",
    ),
    "en": (
        "Please make a larger version of the {p}.",
        "Please add a schedule feature to the app.",
        "A dark mode in the app would be great.",
        "Could you offer the {p} in white?",
        "Video setup guides would really help.",
        "Please add more padding for fragile items.",
        "Support hours in the evening would be nice.",
        "A trade-in programme would be great.",
    ),
}

SUGGESTION_LEADS = {
    "zh": ("小建议：", "提个建议，", "", "作为老用户，", "希望能采纳："),
    "en": ("Suggestion: ", "Feature request: ", "", "Small idea: "),
}

CHAT_OPENERS = {
    "zh": ("你好，", "在吗？", "亲，", "客服你好，", "您好，"),
    "en": ("Hi, ", "Hello, ", "Hi there, "),
}

TICKET_TITLES = {
    "zh": {
        "packaging": "商品到货破损",
        "logistics": "物流延迟",
        "quality": "质量问题",
        "performance": "产品故障",
        "service": "售后服务投诉",
        "app": "App无法使用",
        "price": "价格/保价问题",
        "ease_of_use": "使用咨询",
        "battery": "电池问题",
        "noise": "噪音问题",
        "appearance": "与描述不符",
        "question": "咨询",
        "praise": "表扬",
    },
    "en": {
        "packaging": "Item arrived damaged",
        "logistics": "Delivery delay",
        "quality": "Quality issue",
        "performance": "Product fault",
        "service": "Complaint about support",
        "app": "App not working",
        "price": "Price / price protection",
        "ease_of_use": "How-to question",
        "battery": "Battery issue",
        "noise": "Noise issue",
        "appearance": "Not as described",
        "question": "Question",
        "praise": "Thank you",
    },
}

CALL_ACTIONS = {
    "zh": (
        "已登记退换货",
        "已安排补发",
        "已解释并安抚，客户表示理解",
        "已升级给二线处理",
        "已发放{m}元优惠券作为补偿",
    ),
    "en": (
        "Return registered.",
        "Replacement arranged.",
        "Explained and apologised; customer accepted.",
        "Escalated to tier 2.",
        "Issued a {m} yuan voucher as goodwill.",
    ),
}

SURVEYS = {
    "nps": {
        "name": "post_purchase_nps",
        "question_zh": "您有多大可能向朋友推荐知屿？（0–10分）为什么？",
        "question_en": "How likely are you to recommend Zhiyu to a friend (0–10)? Why?",
    },
    "csat": {
        "name": "support_csat",
        "question_zh": "您对本次购物和服务满意吗？（1–5分）请说说原因。",
        "question_en": "How satisfied are you with your purchase and our service (1–5)? Tell us why.",
    },
}

WEIBO_HANDLE = "@知屿Zhiyu官方"

# Input-method slips and common misspellings, applied sparingly.
TYPOS = {
    "zh": (
        ("已经", "以经"),
        ("再买", "在买"),
        ("好评", "好平"),
        ("非常", "飞常"),
        ("收到", "收倒"),
        ("东西", "东东"),
    ),
    "en": (
        ("received", "recieved"),
        ("definitely", "definately"),
        ("really", "realy"),
        ("the ", "teh "),
        ("quality", "qaulity"),
    ),
}

# Carrier code → (zh name, en name); metadata stores the code, texts the name in their language.
COURIERS: dict[str, tuple[str, str]] = {
    "SF": ("顺丰", "SF Express"),
    "ZTO": ("中通", "ZTO"),
    "YTO": ("圆通", "YTO"),
    "YUNDA": ("韵达", "Yunda"),
    "JDL": ("京东物流", "JD Logistics"),
    "EMS": ("邮政EMS", "EMS"),
    "DHL": ("DHL", "DHL"),
}
HUB_CITIES = {
    "zh": ("武汉", "郑州", "杭州", "廊坊", "嘉兴"),
    "en": ("Wuhan", "Zhengzhou", "Hangzhou", "Langfang"),
}

SURNAMES = (
    "王",
    "李",
    "张",
    "刘",
    "陈",
    "杨",
    "黄",
    "赵",
    "吴",
    "周",
    "徐",
    "孙",
    "马",
    "朱",
    "胡",
    "郭",
    "何",
    "高",
    "林",
    "罗",
    "郑",
    "梁",
    "谢",
    "宋",
    "唐",
    "许",
    "韩",
    "冯",
    "邓",
    "曹",
    "彭",
    "曾",
    "肖",
    "田",
    "董",
    "袁",
    "潘",
    "蒋",
    "蔡",
    "余",
    "杜",
    "叶",
    "程",
    "苏",
    "魏",
    "吕",
    "丁",
    "沈",
    "姚",
    "卢",
    "欧阳",
    "司马",
)
GIVEN_CHARS = (
    "伟",
    "芳",
    "娜",
    "敏",
    "静",
    "丽",
    "强",
    "磊",
    "军",
    "洋",
    "勇",
    "艳",
    "杰",
    "娟",
    "涛",
    "明",
    "超",
    "秀",
    "霞",
    "平",
    "刚",
    "桂",
    "晨",
    "宇",
    "欣",
    "怡",
    "浩",
    "然",
    "子",
    "涵",
    "思",
    "雨",
    "嘉",
    "琪",
    "俊",
    "博",
    "文",
    "婷",
    "鑫",
    "悦",
    "一",
    "诺",
    "梓",
    "轩",
    "晓",
    "雪",
)
FIRST_NAMES_EN = (
    "James",
    "Emma",
    "Oliver",
    "Sophie",
    "Liam",
    "Mia",
    "Noah",
    "Chloe",
    "Lucas",
    "Grace",
    "Ethan",
    "Hannah",
    "Daniel",
    "Sarah",
    "Ryan",
    "Laura",
    "Kevin",
    "Anna",
    "Tom",
    "Priya",
    "Arjun",
    "Yuki",
    "Min-jun",
    "Carlos",
    "Sofia",
    "Ahmed",
    "Nina",
    "Jonas",
    "Elena",
    "Marco",
)
LAST_NAMES_EN = (
    "Smith",
    "Brown",
    "Wilson",
    "Taylor",
    "Martin",
    "Lee",
    "Walker",
    "Hall",
    "Young",
    "King",
    "Wright",
    "Scott",
    "Green",
    "Baker",
    "Adams",
    "Nelson",
    "Patel",
    "Tanaka",
    "Kim",
    "Garcia",
    "Rossi",
    "Müller",
    "Novak",
    "Chen",
    "Wong",
    "Nguyen",
    "Fischer",
    "Silva",
    "Cohen",
    "Dubois",
)
